// Starts fauxqs (an SQS/SNS emulator) on 127.0.0.1 — its own CLI listens on
// 0.0.0.0 — and prints {"address": "http://127.0.0.1:<port>"} once ready.
// FAUXQS_DIR is the fauxqs package directory (node_modules/fauxqs).
import { pathToFileURL } from "node:url";
import path from "node:path";

const dir = process.env.FAUXQS_DIR;
if (!dir) {
  console.error("FAUXQS_DIR is not set");
  process.exit(2);
}
const mod = (p) => import(pathToFileURL(path.join(dir, "dist", p)).href);
const { buildApp } = await mod("app.js");
const { SqsStore } = await mod("sqs/sqsStore.js");
const { SnsStore } = await mod("sns/snsStore.js");
const { S3Store } = await mod("s3/s3Store.js");
const app = buildApp({
  logger: false,
  defaultRegion: process.env.FAUXQS_DEFAULT_REGION || "us-east-1",
  stores: { sqsStore: new SqsStore(), snsStore: new SnsStore(), s3Store: new S3Store() },
});
const address = await app.listen({ port: Number(process.env.FAUXQS_PORT || 0), host: "127.0.0.1" });
console.log(JSON.stringify({ address }));
const stop = async () => { await app.close(); process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
