// Glass-to-glass on the video wall: sign in, then for every frame Chromium paints in one camera's tile,
// paint time (machine clock, ms) minus the time burned into the picture by bench/rtsp_file.py's /clock
// mount. Prints one JSON line {width, latencies_ms, unreadable}.
//   node glass_to_glass.mjs URL PASSWORD CAMERA_ID SECONDS
import { chromium } from "playwright-core";

const [url, password, camera, seconds] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--allow-loopback-in-peer-connection",
         "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.goto(url + "login");
  await page.fill("input[name=username]", "command");
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.click("button[type=submit]")]);
  const tile = `#tile-${camera}`;
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.media, tile, { timeout: 30000 });
  const media = await page.locator(tile).getAttribute("data-media");
  if (media !== "webrtc") throw new Error(`the tile plays ${media}, not WebRTC`);
  const result = await page.evaluate(([sel, ms]) => new Promise((done) => {
    const video = document.querySelector(`${sel} video`);
    const width = video.videoWidth, bits = 32, block = 40, wrap = 2 ** 32;
    const canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = 4 * block;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const latencies = [];
    let unreadable = 0;
    const until = performance.now() + ms;
    const onFrame = (now, meta) => {
      // expectedDisplayTime: when the compositor shows this frame, i.e. the paint.
      const paintedAt = Math.round(performance.timeOrigin + meta.expectedDisplayTime);
      ctx.drawImage(video, 0, 0);
      const top = ctx.getImageData(0, block, width, 1).data, bottom = ctx.getImageData(0, 3 * block, width, 1).data;
      let stamp = 0, clean = true;
      for (let i = 0; i < bits; i++) {
        const x = (i * block + block / 2) * 4, bit = top[x] > 128;
        clean &&= bit !== (bottom[x] > 128);  // the second row is the first inverted
        stamp = stamp * 2 + (bit ? 1 : 0);
      }
      if (clean) latencies.push((((paintedAt % wrap) - stamp) % wrap + wrap) % wrap);
      else unreadable += 1;
      if (now < until) video.requestVideoFrameCallback(onFrame);
      else done({ width, latencies_ms: latencies, unreadable });
    };
    video.requestVideoFrameCallback(onFrame);
  }), [tile, Number(seconds) * 1000]);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
