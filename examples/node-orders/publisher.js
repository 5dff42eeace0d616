#!/usr/bin/env node
// Order publisher: announces N orders and asks the inventory service to reserve each one.
//
//   node publisher.js [N] [NATS_URL]      (or env N / NATS_URL)
"use strict";

const { connect } = require("nats");

const url = process.argv[3] || process.env.NATS_URL || "nats://127.0.0.1:4222";
const n = Number(process.argv[2] || process.env.N || 50);
if (!Number.isInteger(n) || n <= 0) {
  console.error(`publisher: bad N ${process.argv[2] || process.env.N}`);
  process.exit(2);
}

const SKUS = ["apple", "banana", "cherry"];

async function main() {
  const nc = await connect({ servers: url, name: "publisher" });
  let replies = 0;

  for (let i = 1; i <= n; i++) {
    const order = { id: i, sku: SKUS[i % SKUS.length], qty: 1 + (i % 5) };
    const body = JSON.stringify(order);
    nc.publish(`orders.created.${order.sku}`, body);

    // One request at a time keeps the output readable; a real service would pipeline.
    const reply = await nc.request("inventory.reserve", body, { timeout: 5000 });
    const answer = reply.json();
    if (answer.id !== order.id || answer.reserved !== true) {
      throw new Error(`order ${order.id}: unexpected reply ${reply.string()}`);
    }
    replies++;
    console.log(`order ${order.id} ${order.sku} x${order.qty}: ${reply.string()}`);
  }

  // drain() makes sure the last publishes left the socket before we exit.
  await nc.drain();
  console.log(`publisher: ${n} published, ${replies} replies`);
}

main().catch((err) => {
  console.error(`publisher: ${err.code ? err.code + " " : ""}${err.message || err}`);
  process.exit(1);
});
