const USERS=100000,BATCH=1000;
function uuid(i){const h=(n)=>((Math.imul(i+1,n)>>>0).toString(16)+'00000000').slice(0,8);return `${h(0x9e3779b1)}-${h(0x85ebca6b).slice(0,4)}-4${h(0xc2b2ae35).slice(0,3)}-a${h(0x27d4eb2f).slice(0,3)}-${h(0x165667b1)}${h(0xd3a2646c).slice(0,4)}`;}
const keys=JSON.parse(JSON.stringify(Array.from({length:USERS},(_,i)=>uuid(i))));
const mem=new WebAssembly.Memory({initial:1});const bytes=new Uint8Array(mem.buffer);const words=new Int32Array(mem.buffer);const buf=Buffer.from(mem.buffer);
const plainW=new Int32Array(64), plainB=new Uint8Array(256);
const enc=new TextEncoder();const view=bytes.subarray(37);
const WIDE=/[^\u0000-\u07ff]/;
const fns={
A:(s)=>enc.encodeInto(s,view).written,
B:(s)=>{let p=37;const n=s.length;for(let i=0;i<n;i++){const c=s.charCodeAt(i);if(c>=0x80)return -1;bytes[p++]=c;}return p;},
Bplain:(s)=>{let p=37;const n=s.length;for(let i=0;i<n;i++){const c=s.charCodeAt(i);if(c>=0x80)return -1;plainB[p++]=c;}return p;},
C:(s)=>{const n=s.length;let any=0,w=8,i=0;for(;i+4<=n;i+=4){const a=s.charCodeAt(i),b=s.charCodeAt(i+1),c=s.charCodeAt(i+2),d=s.charCodeAt(i+3);any|=a|b|c|d;words[w++]=a|(b<<8)|(c<<16)|(d<<24);}let t=0,sh=0;for(;i<n;i++){const a=s.charCodeAt(i);any|=a;t|=a<<sh;sh+=8;}words[w]=t;return any<0x80?n:-1;},
Cplain:(s)=>{const n=s.length;let any=0,w=8,i=0;for(;i+4<=n;i+=4){const a=s.charCodeAt(i),b=s.charCodeAt(i+1),c=s.charCodeAt(i+2),d=s.charCodeAt(i+3);any|=a|b|c|d;plainW[w++]=a|(b<<8)|(c<<16)|(d<<24);}let t=0,sh=0;for(;i<n;i++){const a=s.charCodeAt(i);any|=a;t|=a<<sh;sh+=8;}plainW[w]=t;return any<0x80?n:-1;},
D:(s)=>buf.latin1Write(s,37),
len:(s)=>s.length,
byteLength:(s)=>Buffer.byteLength(s,'utf8'),
scan:(s)=>{const n=s.length;for(let i=0;i<n;i++){if(s.charCodeAt(i)>=0x800)return 0;}return 1;},
scanOr:(s)=>{const n=s.length;let o=0;for(let i=0;i<n;i++)o|=s.charCodeAt(i);return o<0x800?1:0;},
re:(s)=>WIDE.test(s)?0:1,
sum:(s)=>{let a=0;const n=s.length;for(let i=0;i<n;i++)a+=s.charCodeAt(i);return a;},
first:(s)=>s.charCodeAt(0)+s.charCodeAt(35),
m32:(key)=>{let h=0;const n=key.length,b=n&~3;for(let i=0;i<b;i+=4){let k=key.charCodeAt(i)|(key.charCodeAt(i+1)<<8)|(key.charCodeAt(i+2)<<16)|(key.charCodeAt(i+3)<<24);k=Math.imul(k,0xcc9e2d51);k=(k<<15)|(k>>>17);h^=Math.imul(k,0x1b873593);h=(h<<13)|(h>>>19);h=(Math.imul(h,5)+0xe6546b64)|0;}h^=n;return h>>>0;},
};
const mk=(name)=>new Function('f','keys','USERS','BATCH',`let i=0;return ()=>{let sink=0;for(let k=0;k<BATCH;k++){sink+=f(keys[i]);i=i+1===USERS?0:i+1;}return sink;}`)(fns[name],keys,USERS,BATCH);
function rate(run){for(let w=0;w<50;w++)run();const rs=[];for(let r=0;r<5;r++){let calls=0;const s=process.cpuUsage();const end=performance.now()+300;while(performance.now()<end){run();calls++;}const u=process.cpuUsage(s);rs.push(1e9*((u.user+u.system)/1e6)/(calls*BATCH));}rs.sort((a,b)=>a-b);return rs[2];}
for(const n of Object.keys(fns)) console.log(n.padEnd(14),rate(mk(n)).toFixed(1));
