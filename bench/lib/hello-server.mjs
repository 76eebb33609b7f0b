// R_http: a bare node:http server that reads a JSON body and answers 202 with a small JSON
// body, the shape of POST /api/tasks without any of its work. Port from argv[2].
import http from "node:http";

const port = Number(process.argv[2]);
const answer = Buffer.from(
  JSON.stringify({
    id: "0190f5f2-6b1c-7cc4-8e5b-3f1d2a4b5c6d",
    type: "sleep",
    title: null,
    status: "PENDING",
    created_at: new Date().toISOString(),
  }),
);
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method === "POST") JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
    res.writeHead(req.method === "POST" ? 202 : 200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": answer.length,
    });
    res.end(answer);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
