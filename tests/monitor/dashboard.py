"""Loads Riptide's /dashboard in headless Chromium while loadgen publishes through the
server, waits until the page shows non-zero message rates (server-wide and per shard) and
drawn charts, and saves a screenshot.

usage: dashboard.py CHROMIUM DASHBOARD_URL NATS_URL LOADGEN SCREENSHOT [SAMPLES]

SAMPLES: rate samples (one a second) to wait for before the screenshot, default 3.
"""
import subprocess
import sys

from playwright.sync_api import sync_playwright

# Flags the machine's closed network needs (no background fetches to Google's hosts).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 60_000  # bound on waiting for the page to show rates


def main():
    chromium, url, nats_url, loadgen, shot = sys.argv[1:6]
    samples = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    load = subprocess.Popen(
        [loadgen, "pubsub", "--server", nats_url, "--pubs", "2", "--subs", "2",
         "--rate", "20000", "--duration", f"{samples + 40}s", "--size", "128", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            # Rates need two samples; wait until both the totals and every shard moved.
            page.wait_for_function(
                """() => {
                    const v = id => Number(document.getElementById(id).dataset.value);
                    const shards = [...document.querySelectorAll('[data-shard-msgs]')];
                    return v('rate-in-msgs') > 0 && v('rate-out-msgs') > 0
                        && v('rate-in-bytes') > 0 && v('now-connections') > 0
                        && Number(document.getElementById('chart-msgs').dataset.max) > 0
                        && shards.length > 0
                        && shards.some(s => Number(s.dataset.value) > 0)
                        && Number(document.body.dataset.samples) >= SAMPLES;
                }""".replace("SAMPLES", str(samples)),
                timeout=WAIT_MS + samples * 1000,
            )
            rates = page.evaluate(
                """() => ({
                    in_msgs: document.getElementById('rate-in-msgs').dataset.value,
                    out_msgs: document.getElementById('rate-out-msgs').dataset.value,
                    connections: document.getElementById('now-connections').dataset.value,
                    shards: [...document.querySelectorAll('[data-shard-msgs]')]
                        .map(s => s.dataset.value),
                    status: document.getElementById('status').textContent,
                })"""
            )
            page.screenshot(path=shot, full_page=True)
            browser.close()
        print(f"dashboard: ok, rates shown {rates}")
    finally:
        load.kill()
        load.wait()


if __name__ == "__main__":
    main()
