-- wrk script: one XML-RPC XenAPI call per request, on keep-alive connections.
--   BENCH_METHOD   e.g. VM_guest_metrics.get_record or VM.get_power_state
--   BENCH_SESSION  a session ref from session.login_with_password
--   BENCH_REF      the object ref the method takes
-- The body is built once: wrk then measures the server, not Lua.
local method = os.getenv("BENCH_METHOD") or "VM.get_power_state"
local session = os.getenv("BENCH_SESSION") or ""
local ref = os.getenv("BENCH_REF") or ""

wrk.method = "POST"
wrk.path = "/RPC2"
wrk.headers["Content-Type"] = "text/xml"
wrk.body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>" .. method ..
  "</methodName>\n<params>\n<param>\n<value><string>" .. session ..
  "</string></value>\n</param>\n<param>\n<value><string>" .. ref ..
  "</string></value>\n</param>\n</params>\n</methodCall>\n"
