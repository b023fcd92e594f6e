"""Writes the browser test's input files into OUT (Debian's python3-pil and
python3-skimage only; nothing from outside the repository or the packages).

  photo-1.jpg, photo-2.jpg   photo-like JPEGs (tests/e2e/pp.py make_jpeg)
  face.jpg                   skimage's astronaut: one face
  hostile name .jpg          EXIF Make/Model carrying markup, a name with markup
  not-an-image.jpg           text
  park.jpg                   the job the test parks and replays
  gallery/g-NN.jpg           60 small JPEGs for the gallery
"""
import io
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import pp  # noqa: E402

HOSTILE_MAKE = "<img src=x onerror=alert(1)>"
HOSTILE_MODEL = "<script>alert(2)</script>"
HOSTILE_NAME = '<img src=x onerror=alert(3)> & "quotes".jpg'


def main(out):
    os.makedirs(os.path.join(out, "gallery"), exist_ok=True)

    def put(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    put("photo-1.jpg", pp.make_jpeg(1600, 1200, seed=1))
    put("photo-2.jpg", pp.make_jpeg(1200, 1600, seed=2))
    from skimage import data as skdata
    astro = Image.fromarray(skdata.astronaut())
    buf = io.BytesIO()
    astro.save(buf, "JPEG", quality=90)
    put("face.jpg", buf.getvalue())

    exif = Image.Exif()
    exif[0x010F] = HOSTILE_MAKE   # Make
    exif[0x0110] = HOSTILE_MODEL  # Model
    buf = io.BytesIO()
    Image.open(io.BytesIO(pp.make_jpeg(800, 600, seed=5))).save(buf, "JPEG", quality=85, exif=exif)
    put(HOSTILE_NAME, buf.getvalue())

    put("not-an-image.jpg", b"this is plain text, not a JPEG\n" * 20)
    put("park.jpg", pp.make_jpeg(640, 480, seed=7))
    for i in range(60):
        put(os.path.join("gallery", f"g-{i:02d}.jpg"), pp.make_jpeg(320, 240, seed=100 + i, quality=80))


if __name__ == "__main__":
    main(sys.argv[1])
