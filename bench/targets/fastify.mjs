/**
 * Baseline 6, Fastify: what a Node team would write instead. Fastify's own JSON
 * body parser (64 KiB limit, application/json only) and one route doing the
 * sale's work (baseline-work.mjs). Logging off, nothing stored.
 */
import Fastify from "fastify";
import { announce, errorAnswer, exitOnSignal, initiateSale } from "./baseline-work.mjs";

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

app.setErrorHandler((e, _req, reply) => {
  const { status, body } = errorAnswer(e);
  reply.code(status).header("cache-control", "no-store").send(body);
});

app.post("/sale/initiate-sale", async (req, reply) => {
  reply.header("cache-control", "no-store");
  return initiateSale(req.body);
});

const url = await app.listen({ host: "127.0.0.1", port: 0 });
announce(url);
exitOnSignal(() => app.close());
