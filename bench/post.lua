-- wrk script: POST a 4 KiB body (the server echoes it back).
--   wrk -t1 -c64 -d5s -s bench/post.lua http://127.0.0.1:PORT/echo
-- wrk.format adds the Content-Length header for the body.
wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", 256)
wrk.headers["Content-Type"] = "application/octet-stream"
