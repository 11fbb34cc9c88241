/** What a command reads and writes; tests pass their own to capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input, for options that take `-` (e.g. `resolve --contexts -`). */
  readStdin(): Promise<string>;
  /** Whether stdout is an interactive terminal (progress bars, colours). */
  readonly isTty: boolean;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  readStdin: readProcessStdin,
  isTty: process.stdout.isTTY,
  cwd: process.cwd(),
  env: process.env,
};
