//! Retention without silent loss: trimming that never removes what a consumer group still needs.
//!
//! The original appended with `MAXLEN ~ 10000`, so a group that fell 10,000 entries behind lost events
//! without a trace. This backend never trims on append. [`crate::RedisLog::trim`] applies a
//! [`Retention`] on demand (the runtime calls it periodically) and, unless [`Retention::force`] is set,
//! only removes entries that **every** consumer group on the stream (ours and anyone else's) is done with:
//! it computes a floor, the minimum over all groups of
//!
//! - the first id after the group's last-delivered id (entries not yet delivered are kept), and
//! - the group's oldest pending id (delivered but unacknowledged entries are kept),
//!
//! and trims with `XTRIM MINID` to the lower of that floor and the policy's cut. The whole computation
//! runs in one Lua script, so no group can advance or be created half-way through. A stream without
//! groups is trimmed by the policy alone. The consequence is documented, not hidden: a stuck group makes
//! the stream grow; [`TrimReport::held_back_by`] names it so operators can act (fix the consumer, delete
//! the group, or trim with `force`).

use std::time::Duration;

use eventstream_core::Position;

/// How much of the stream to keep. Both limits may be set; an entry is removed when either says so
/// (and, without `force`, no group still needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Keep at most this many entries.
    pub max_len: Option<u64>,
    /// Remove entries appended longer ago than this (by the stream id's millisecond part, i.e. the Redis
    /// server's clock at append).
    pub max_age: Option<Duration>,
    /// Trim even entries that a group has not delivered or acknowledged. Those events are lost to that
    /// group; a later read of one of its pending entries yields a `DecodeError` record saying so.
    pub force: bool,
}

impl Retention {
    /// Keep at most `n` entries (without `force`).
    pub fn max_len(n: u64) -> Self {
        Self { max_len: Some(n), ..Self::default() }
    }

    /// Keep entries younger than `age` (without `force`).
    pub fn max_age(age: Duration) -> Self {
        Self { max_age: Some(age), ..Self::default() }
    }
}

/// What one [`crate::RedisLog::trim`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrimReport {
    /// Entries removed.
    pub removed: u64,
    /// The `MINID` applied: every entry before it is gone. `None` when the policy removed nothing.
    pub kept_from: Option<Position>,
    /// The Redis group (full name, prefix included) whose unconsumed entries stopped the trim short of
    /// the policy, if any.
    pub held_back_by: Option<String>,
}

/// The trim script. KEYS[1] = stream; ARGV[1] = max_len or -1; ARGV[2] = max_age in ms or -1;
/// ARGV[3] = "1" to force. Returns `{removed, minid or "", holding group or ""}`.
///
/// Ids are compared as decimal strings (Lua numbers are doubles and a sequence may be 2^64-1).
pub(crate) const TRIM_SCRIPT: &str = r#"
local key = KEYS[1]
local max_len = tonumber(ARGV[1])
local max_age = tonumber(ARGV[2])
local force = ARGV[3] == '1'
if redis.call('EXISTS', key) == 0 then return {0, '', ''} end

local function split(id)
  local d = string.find(id, '-', 1, true)
  return string.sub(id, 1, d - 1), string.sub(id, d + 1)
end
local function cmpnum(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  local c = cmpnum(am, bm)
  if c ~= 0 then return c end
  return cmpnum(as, bs)
end
local function incr(s)
  local out = {}
  local carry = 1
  for j = #s, 1, -1 do
    local d = string.byte(s, j) - 48 + carry
    if d == 10 then d = 0; carry = 1 else carry = 0 end
    out[j] = string.char(d + 48)
  end
  local r = table.concat(out)
  if carry == 1 then r = '1' .. r end
  return r
end
local function succ(id)
  local ms, seq = split(id)
  if seq == '18446744073709551615' then return incr(ms) .. '-0' end
  return ms .. '-' .. incr(seq)
end

local cut = nil
if max_len >= 0 then
  local len = redis.call('XLEN', key)
  if len > max_len then
    local skip = len - max_len
    local start = '-'
    local last = nil
    while skip > 0 do
      local batch = redis.call('XRANGE', key, start, '+', 'COUNT', math.min(skip, 1000))
      if #batch == 0 then break end
      last = batch[#batch][1]
      skip = skip - #batch
      start = '(' .. last
    end
    if last then cut = succ(last) end
  end
end
if max_age >= 0 then
  local t = redis.call('TIME')
  local edge = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - max_age
  if edge > 0 then
    local age_cut = string.format('%d', edge) .. '-0'
    if cut == nil or cmp(age_cut, cut) > 0 then cut = age_cut end
  end
end
if cut == nil then return {0, '', ''} end

local holder = ''
if not force then
  local groups = redis.call('XINFO', 'GROUPS', key)
  for _, g in ipairs(groups) do
    local name, last = nil, '0-0'
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
    end
    local floor = succ(last)
    local p = redis.call('XPENDING', key, name)
    if p[1] > 0 and cmp(p[2], floor) < 0 then floor = p[2] end
    if cmp(floor, cut) < 0 then cut = floor; holder = name end
  end
end
local removed = redis.call('XTRIM', key, 'MINID', '=', cut)
return {removed, cut, holder}
"#;

/// Counts the entries after ARGV[1] (exclusive) in chunks, for groups whose `lag` Redis cannot tell.
/// KEYS[1] = stream; ARGV[1] = last-delivered id; ARGV[2] = group. Returns entries after the id
/// that are not already pending (pending ones after it exist only after the group was moved back).
pub(crate) const UNDELIVERED_SCRIPT: &str = r#"
local key = KEYS[1]
local n = 0
local start = '(' .. ARGV[1]
while true do
  local b = redis.call('XRANGE', key, start, '+', 'COUNT', 1000)
  n = n + #b
  if #b < 1000 then break end
  start = '(' .. b[#b][1]
end
start = '(' .. ARGV[1]
while true do
  local p = redis.call('XPENDING', key, ARGV[2], start, '+', 1000)
  n = n - #p
  if #p < 1000 then break end
  start = '(' .. p[#p][1]
end
if n < 0 then n = 0 end
return n
"#;
