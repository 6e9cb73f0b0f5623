-- wrk script: the JSON-RPC twin of xmlrpc.lua (same environment variables),
-- posting {"jsonrpc":"2.0","method":...,"params":[session, ref]} to /jsonrpc.
local method = os.getenv("BENCH_METHOD") or "VM.get_power_state"
local session = os.getenv("BENCH_SESSION") or ""
local ref = os.getenv("BENCH_REF") or ""

wrk.method = "POST"
wrk.path = "/jsonrpc"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","method":"' .. method .. '","params":["' .. session ..
  '","' .. ref .. '"],"id":1}'
