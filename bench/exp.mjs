import { loadState, resolveFlag, HashPrefix } from '@allot/core';
const USERS=100000, BATCH=1000;
function uuid(i){const h=(n)=>((Math.imul(i+1,n)>>>0).toString(16)+'00000000').slice(0,8);return `${h(0x9e3779b1)}-${h(0x85ebca6b).slice(0,4)}-4${h(0xc2b2ae35).slice(0,3)}-a${h(0x27d4eb2f).slice(0,3)}-${h(0x165667b1)}${h(0xd3a2646c).slice(0,4)}`;}
const C=['SE','NO','DK','US','DE'];
const all=JSON.parse(JSON.stringify(Array.from({length:USERS},(_,i)=>({targeting_key:uuid(i),country:C[i%5],age:10+((i*7919)%70)}))));
const inAud=all.filter(c=>(c.country==='SE'||c.country==='NO')&&c.age>=18); const out=all.filter(c=>!((c.country==='SE'||c.country==='NO')&&c.age>=18));
const targeting={criteria:{nordic:{attribute:{attributeName:'country',setRule:{values:[{stringValue:'SE'},{stringValue:'NO'}]}}},adult:{attribute:{attributeName:'age',rangeRule:{startInclusive:{numberValue:18}}}}},expression:{and:{operands:[{ref:'nordic'},{ref:'adult'}]}}};
const rule={name:'flags/a/rules/split',segment:'segments/full',enabled:true,targetingKeySelector:'targeting_key',assignmentSpec:{bucketCount:1000,assignments:[{assignmentId:'on',variant:{variant:'on'},bucketRanges:[{lower:0,upper:500}]},{assignmentId:'off',variant:{variant:'off'},bucketRanges:[{lower:500,upper:1000}]}]}};
const state=loadState({account:{name:'accounts/bench'},clients:{s:{client:{name:'clients/c'},clientCredential:{name:'clients/c/credentials/x',clientSecret:{secret:'s'}}}},segments:{'segments/full':{name:'segments/full',targeting}},bitsets:{'segments/full':'ALL'},flags:{'flags/a':{name:'flags/a',state:'ACTIVE',clients:['clients/c'],variants:[{name:'on',value:{enabled:true}},{name:'off',value:{enabled:false}}],rules:[rule]}}});
const client=state.client('s'), flag=state.flag('a');
const prefix=flag.rules[0].prefix; console.log('prefix', JSON.stringify(prefix.prefix));
function m32(key,seed){let h=seed;const n=key.length,b=n&~3;for(let i=0;i<b;i+=4){let k=key.charCodeAt(i)|(key.charCodeAt(i+1)<<8)|(key.charCodeAt(i+2)<<16)|(key.charCodeAt(i+3)<<24);k=Math.imul(k,0xcc9e2d51);k=(k<<15)|(k>>>17);h^=Math.imul(k,0x1b873593);h=(h<<13)|(h>>>19);h=(Math.imul(h,5)+0xe6546b64)|0;}let k=0;const t=n&3;if(t===3)k^=key.charCodeAt(b+2)<<16;if(t>=2)k^=key.charCodeAt(b+1)<<8;if(t>=1){k^=key.charCodeAt(b);k=Math.imul(k,0xcc9e2d51);k=(k<<15)|(k>>>17);h^=Math.imul(k,0x1b873593);}h^=n;h^=h>>>16;h=Math.imul(h,0x85ebca6b);h^=h>>>13;h=Math.imul(h,0xc2b2ae35);h^=h>>>16;return h>>>0;}
const ON={value:true,variant:'on'},OFF={value:false,variant:'off'};
const hand=(c)=>((c.country!=='SE'&&c.country!=='NO')||!(c.age>=18))?OFF:(m32(c.targeting_key,0)%100<50?ON:OFF);
const r0=flag.rules[0];
const spec=(c)=>((c.country!=='SE'&&c.country!=='NO')||!(c.age>=18))?OFF:(prefix.bucket(c.targeting_key,1000)<500?ON:OFF);

const WIDE=/[^\u0000-\u07ff]/, NONASCII=/[^\u0000-\u007f]/;
function fits(u){const n=u.length; if(n<=33) return true; if(n>100) return false; if(n<=50?!WIDE.test(u):!NONASCII.test(u)) return true; return Buffer.byteLength(u,'utf8')<=100;}
function unitOf2(v){ if(typeof v==='string') return fits(v)?v:undefined; if(v==null) return null; return undefined; }
const frame={unit:null,unrecognized:false}; const A0=r0.assignments[0].result, A1=r0.assignments[1].result, NM=flag.noMatch, TE=flag.targetingKeyError;
const gen=(c)=>{ let unit=unitOf2(c["targeting_key"]); if(unit===undefined) return TE; if(unit===null) return NM; frame.unit=unit;
  let v=c["country"]; const m = (typeof v==='string'? (v==="SE"||v==="NO") : false) && ((v=c["age"]), typeof v==='number'? v>=18 : false);
  if(frame.unrecognized){frame.unrecognized=false;return NM;} if(!m) return NM; const b=prefix.bucket(unit,1000); return b<500?A0:b<1000?A1:NM; };
let sink=0;
function rate(list,f){const n=list.length;let i=0;const run=()=>{for(let k=0;k<BATCH;k++){if(f(list[i])!==undefined)sink++;i=i+1===n?0:i+1;}};for(let w=0;w<50;w++)run();const rs=[];for(let r=0;r<5;r++){let calls=0;const s=process.cpuUsage();const end=performance.now()+300;while(performance.now()<end){run();calls++;}const u=process.cpuUsage(s);rs.push(1e9*((u.user+u.system)/1e6)/(calls*BATCH));}rs.sort((a,b)=>a-b);return rs[2];}
const rows=[['all gen',all,gen],['aud gen',inAud,gen],['out gen',out,gen],['out fits',out,c=>fits(c.targeting_key)],['all allot',all,c=>resolveFlag(state,client,flag,c)],['all hand',all,hand],['all spec(exact hash)',all,spec],
['aud allot',inAud,c=>resolveFlag(state,client,flag,c)],['aud hand',inAud,hand],['aud spec',inAud,spec],['aud bucket only',inAud,c=>prefix.bucket(c.targeting_key,1000)],['aud m32 only',inAud,c=>m32(c.targeting_key,0)],
['out allot',out,c=>resolveFlag(state,client,flag,c)],['out hand',out,hand],['aud touch key',inAud,c=>c.targeting_key.length]];
for(const [n,l,f] of rows) console.log(n.padEnd(24), rate(l,f).toFixed(1),'ns');
