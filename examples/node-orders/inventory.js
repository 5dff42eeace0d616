#!/usr/bin/env node
// Inventory service: watches every created order and reserves stock on request.
//
//   node inventory.js [N] [NATS_URL]      (or env N / NATS_URL)
//
// It stops once it has seen N created orders AND answered N reservations, so a test can
// tell "the broker delivered everything" from "the service was killed early".
"use strict";

const { connect } = require("nats");

const url = process.argv[3] || process.env.NATS_URL || "nats://127.0.0.1:4222";
const n = Number(process.argv[2] || process.env.N || 50);
if (!Number.isInteger(n) || n <= 0) {
  console.error(`inventory: bad N ${process.argv[2] || process.env.N}`);
  process.exit(2);
}

async function main() {
  const nc = await connect({ servers: url, name: "inventory" });
  const perSku = new Map();
  let created = 0;
  let reserved = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const check = () => {
    if (created >= n && reserved >= n) finish();
  };

  // Plain subscription: every inventory instance sees every order (fan-out).
  const orders = nc.subscribe("orders.created.>");
  (async () => {
    for await (const m of orders) {
      const order = m.json();
      const sku = m.subject.split(".").slice(2).join(".");
      if (order.sku !== sku) {
        console.error(`inventory: subject ${m.subject} carries sku ${order.sku}`);
        process.exitCode = 1;
      }
      perSku.set(sku, (perSku.get(sku) || 0) + 1);
      created++;
      check();
    }
  })();

  // Queue group: with several inventory instances each reservation is answered once.
  const reserve = nc.subscribe("inventory.reserve", { queue: "inventory" });
  (async () => {
    for await (const m of reserve) {
      const order = m.json();
      m.respond(JSON.stringify({ id: order.id, reserved: true }));
      reserved++;
      check();
    }
  })();

  // The flush round trip guarantees the server registered both subscriptions before
  // we announce readiness; run-test.sh waits for this line before starting the publisher.
  await nc.flush();
  console.log("inventory: ready");

  await finished;
  // drain() delivers what is already buffered and flushes our last replies before closing.
  await nc.drain();
  const skus = [...perSku.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([sku, count]) => `${sku}=${count}`)
    .join(" ");
  console.log(`inventory: ${created} orders, ${reserved} reserved (${skus})`);
}

main().catch((err) => {
  console.error(`inventory: ${err.message || err}`);
  process.exit(1);
});
