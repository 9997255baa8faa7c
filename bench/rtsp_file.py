"""Serve an H.264 MP4 over RTSP as it was encoded, like a camera.

``/usr/bin/python3 bench/rtsp_file.py PORT FILE`` serves rtsp://127.0.0.1:PORT/cam. Run with Debian's
python (python3-gi, gir1.2-gst-rtsp-server-1.0), not the venv. Unlike /work/shared/peers/rtsp_server.py it
does not re-encode: the packets are the clip's own (bitrate, GOP), and this process stays cheap, so it
takes little CPU from the server measured on the same machine. Each client gets its own playback from the
start of the file, paced in real time; the file is not looped.

A second mount, /clock, is a live camera whose pictures carry the wall-clock time they were made, for
glass-to-glass latency: 1280×720 at 25 fps, encoded here with x264 (as a camera's encoder would), the
time in ms (mod 2³²) as 32 white/black blocks 40 px wide in rows 0–79, and inverted in rows 80–159 so that a
reader can tell a clean picture from a damaged one.
"""

import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

WIDTH, HEIGHT, FPS, BITS, BLOCK = 1280, 720, 25, 32, 40
# threads=1: zerolatency otherwise cuts each picture into one slice per thread, and such pictures, passed
# through gridwatch, paint near-black in Chromium but for the keyframes (seen 2026-12; cause not found yet).
CLOCK_LAUNCH = (
    f"( appsrc name=src is-live=true do-timestamp=true format=time caps=video/x-raw,format=I420,"
    f"width={WIDTH},height={HEIGHT},framerate={FPS}/1 ! x264enc tune=zerolatency speed-preset=ultrafast "
    f"threads=1 key-int-max={FPS} bitrate=2000 ! video/x-h264,profile=baseline ! "
    "rtph264pay name=pay0 pt=96 config-interval=-1 )"
)


def clock_picture(ms: int) -> bytes:
    bits = [(ms >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    row = b"".join((b"\xeb" if bit else b"\x10") * BLOCK for bit in bits)
    inverted = b"".join((b"\x10" if bit else b"\xeb") * BLOCK for bit in bits)
    rest = b"\x80" * (WIDTH * (HEIGHT - 4 * BLOCK))
    chroma = b"\x80" * (WIDTH * HEIGHT // 2)
    return row * (2 * BLOCK) + inverted * (2 * BLOCK) + rest + chroma


def on_clock_media(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
    src = media.get_element().get_by_name("src")

    def push() -> bool:
        picture = clock_picture(int(time.time() * 1000) % 2**BITS)
        return src.emit("push-buffer", Gst.Buffer.new_wrapped(picture)) == Gst.FlowReturn.OK

    push()
    GLib.timeout_add(1000 // FPS, push)


def main() -> None:
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # config-interval=-1: SPS/PPS before every keyframe, so a receiver joining mid-stream can start.
    factory.set_launch(
        f'( filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 ! '
        "rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    clock = GstRtspServer.RTSPMediaFactory()
    clock.set_launch(CLOCK_LAUNCH)
    clock.set_shared(True)
    clock.connect("media-configure", on_clock_media)
    server.get_mount_points().add_factory("/clock", clock)
    if server.attach(None) == 0:
        print("failed to bind", file=sys.stderr, flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
