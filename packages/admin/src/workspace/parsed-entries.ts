/**
 * Reading a workspace file again without parsing it all again: the document is cut into the
 * entries of its `segments`, `flags` and `groups` maps (one entry: its key's line at two
 * spaces and the lines under it), and an entry whose text a read through the same
 * `ParsedEntries` already turned into a segment, flag or group is not parsed again; the new
 * workspace shares that (immutable) entry with the last. Only a document laid out as the tool
 * writes it is cut; anything else (tabs, CRLF, directives, flow style at the top, other
 * indentation, anchors, aliases, tags or complex keys anywhere, an entry key that is not a
 * plain id, an entry that does not parse on its own) is parsed whole, as is every document
 * with a problem, so errors are the whole document's.
 */
import { createHash } from 'node:crypto';

import type { ExclusionGroup, Flag, Segment } from './model.js';

export const ENTRY_SECTIONS = ['segments', 'flags', 'groups'] as const;
export type EntrySection = (typeof ENTRY_SECTIONS)[number];

export interface EntryModels {
  readonly segments: Segment;
  readonly flags: Flag;
  readonly groups: ExclusionGroup;
}

/**
 * The segments, flags and groups of the last document read through it, by a digest of their
 * entry's text, for the next read of the same file (`ParseOptions.entries`; `WorkspaceFile`
 * keeps one). Held weakly: it keeps alive nothing that no workspace holds.
 */
type KeptEntries = { [S in EntrySection]: Map<string, WeakRef<EntryModels[S]>> };

function noEntries(): KeptEntries {
  return { segments: new Map(), flags: new Map(), groups: new Map() };
}

export class ParsedEntries {
  private byDigest: KeptEntries = noEntries();

  /** The entry whose text has this digest, if a workspace still holds it. */
  get<S extends EntrySection>(section: S, digest: string): EntryModels[S] | undefined {
    return this.byDigest[section].get(digest)?.deref();
  }

  /** Replaces what is kept by the entries of the document just read. */
  replace(next: KeptEntries): void {
    this.byDigest = next;
  }

  /** Forgets everything (a document that was not cut). */
  clear(): void {
    this.byDigest = noEntries();
  }

  /** How many entries are kept (tests). */
  get size(): number {
    return this.byDigest.segments.size + this.byDigest.flags.size + this.byDigest.groups.size;
  }
}

/** A document cut into its entry sections' entries (texts, in order) and the rest. */
export interface CutDocument {
  /** The document without the entries: each entry section's key stays, with nothing under it. */
  readonly rest: string;
  /** The sections whose entries were cut out (a section with none is left in `rest`). */
  readonly sections: ReadonlyMap<EntrySection, readonly string[]>;
}

/** A blank line, or a comment alone on its line. */
const BLANK_OR_COMMENT = /^ *(#.*)?$/;
/**
 * A line at column 0 that cutting accepts: a plain key of the document's block map (every key
 * of a workspace is a lower-case word). Any other (a flow collection, a tag, an anchor, a
 * quoted scalar's continuation) sends the document to the whole parse.
 */
const TOP_LEVEL_KEY = /^[a-z]+:( |$)/;
/** An entry's first line: a valid id (names.ts) as a plain key at two spaces. Any other (a flow map, an anchor or tag alone, a quoted key) is read whole. */
const ENTRY_KEY = /^ {2}[a-z][a-z0-9-]*:( |$)/;
/**
 * What makes a node mean something outside its own text, or an entry read alone differ: an
 * anchor (`&`), an alias (`*`), a tag (`!`, not `!=`), or a complex key (`?`), where a node
 * can start (after a space, a flow indicator, or `:`, as in `{"k":&x v}`). A document holding
 * one anywhere is read whole (a name like "R&D" is not one: `&` there follows a letter).
 */
const NODE_PROPERTY = /(?:^|[\s[\]{},:])(?:[&*]|!(?!=)|\?(?=\s|$))/m;

/**
 * `text` cut as `CutDocument` says, or null when it is not laid out as the tool writes YAML:
 * then it is parsed whole. An entry's text is the document's own bytes, from its key's line to
 * the next entry or top-level key, line breaks and trailing blank lines included (a block
 * scalar that keeps them reads the same alone). Cutting never decides what the document means:
 * each entry is parsed on its own (and must be a map of one key), and anything that does not
 * hold sends the read back to the whole document.
 */
export function cutDocument(text: string): CutDocument | null {
  if (text.includes('\r') || text.includes('\t') || NODE_PROPERTY.test(text)) return null;
  const rest: string[] = [];
  const sections = new Map<EntrySection, string[]>();
  let entries: string[] | null = null;
  /** Where the entry being read starts in `text`, or -1. */
  let entryStart = -1;
  const close = (at: number): void => {
    if (entryStart >= 0) entries!.push(text.slice(entryStart, at));
    entryStart = -1;
  };
  let at = 0;
  for (const line of text.split('\n')) {
    const lineStart = at;
    at += line.length + 1;
    if (line.startsWith('%') || line.startsWith('---') || line.startsWith('...')) return null;
    if (line !== '' && line[0] !== ' ' && line[0] !== '#') {
      // A top-level line: the next key of the document's map.
      if (!TOP_LEVEL_KEY.test(line)) return null;
      close(lineStart);
      entries = null;
      const section = ENTRY_SECTIONS.find((s) => line === `${s}:`);
      if (section !== undefined) {
        if (sections.has(section)) return null; // a key repeated: the whole parse says so
        entries = [];
        sections.set(section, entries);
      }
      rest.push(line);
    } else if (entries === null) {
      rest.push(line);
    } else if (line.startsWith('  ') && line.length > 2 && line[2] !== ' ' && line[2] !== '#') {
      if (!ENTRY_KEY.test(line)) return null;
      close(lineStart);
      entryStart = lineStart;
    } else if (line.startsWith('#')) {
      return null; // a comment at column 0 inside a section (it can split a node from its properties)
    } else if (!BLANK_OR_COMMENT.test(line) && (entryStart < 0 || !line.startsWith('   '))) {
      return null; // other indentation
    }
  }
  close(text.length);
  for (const [section, found] of sections) if (found.length === 0) sections.delete(section);
  return { rest: rest.join('\n'), sections };
}

/** The digest an entry's text is kept under. */
export function entryDigest(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}
