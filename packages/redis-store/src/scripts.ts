/**
 * The two Lua scripts the store runs, one round trip each. An entry is a hash per
 * (materialization, unit): `in` = "1" when the unit is in the materialization, and
 * `r:<rule>` = the variant that rule assigned.
 *
 * Read: every key's fields, renewing the TTL of each key that exists. A key of another type
 * (corrupt) answers `"corrupt:<type>"` instead of failing the whole batch.
 *
 * Write: per key, `rule`, `variant`, and `replaces` ("-" for a first write, "=<variant>" for a
 * compare-and-set). A first write uses HSETNX, so concurrent first exposures on two servers
 * agree on the first one; a compare-and-set replaces only the stale variant it names. A key
 * of another type is replaced. The script is idempotent: sending it again changes nothing.
 */
export const READ_SCRIPT = `
local ttl = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'hash' then
    out[i] = redis.call('HGETALL', key)
    redis.call('EXPIRE', key, ttl)
  elseif kind == 'none' then
    out[i] = {}
  else
    out[i] = 'corrupt:' .. kind
  end
end
return out
`;

export const WRITE_SCRIPT = `
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local rule = ARGV[i * 3 - 1]
  local variant = ARGV[i * 3]
  local replaces = ARGV[i * 3 + 1]
  local kind = redis.call('TYPE', key).ok
  if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', key) end
  redis.call('HSET', key, 'in', '1')
  local field = 'r:' .. rule
  if replaces == '-' then
    redis.call('HSETNX', key, field, variant)
  else
    local current = redis.call('HGET', key, field)
    if current == false or current == string.sub(replaces, 2) then redis.call('HSET', key, field, variant) end
  end
  redis.call('EXPIRE', key, ttl)
end
return #KEYS
`;
