"""Decoding any common image format to RGB uint8, and resizing."""

from __future__ import annotations

import io
import re
import struct

import cv2
import numpy as np
import pytest
from helpers import encode, patch_png_size, pil_bytes, random_image
from PIL import Image

from core.data.imageio import MAX_PIXELS, decode_image, enlarge, resize_square
from core.errors import ImageError


def test_jpeg_rgb():
    image = random_image(1, (24, 40))
    out = decode_image(encode(image, ".jpg", quality=100))
    assert out.shape == (24, 40, 3) and out.dtype == np.uint8
    error = np.abs(out.astype(int) - image).mean()
    swapped = np.abs(out[..., ::-1].astype(int) - image).mean()
    assert error < 10 and swapped > 3 * error  # RGB order kept (not BGR)


def test_jpeg_channel_order():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    out = decode_image(encode(red, ".jpg"))
    assert out[..., 0].min() > 240 and out[..., 1:].max() < 15


def test_png_lossless():
    image = random_image(2, (20, 30))
    out = decode_image(encode(image, ".png"))
    np.testing.assert_array_equal(out, image)


def test_png_grayscale_three_equal_channels():
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    out = decode_image(encode(gray, ".png"))
    assert out.shape == (8, 8, 3)
    for ch in range(3):
        np.testing.assert_array_equal(out[..., ch], gray)


def test_grayscale_jpeg_three_channels():
    gray = np.full((8, 8), 77, np.uint8)
    out = decode_image(encode(gray, ".jpg"))
    assert out.shape == (8, 8, 3)
    assert np.abs(out.astype(int) - 77).max() <= 1


def test_rgba_transparent_composited_on_white():
    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 0] = 200  # red but fully transparent
    rgba[0, 0] = (10, 20, 30, 255)  # one opaque pixel
    rgba[0, 1] = (0, 0, 0, 128)  # half-transparent black over white
    out = decode_image(pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (6, 6, 3)
    assert (out[2:] == 255).all()
    assert out[0, 0].tolist() == [10, 20, 30]
    assert np.abs(out[0, 1].astype(int) - 127).max() <= 1


def test_la_transparent_is_white():
    la = Image.new("LA", (4, 4), (0, 0))
    out = decode_image(pil_bytes(la, "PNG"))
    assert (out == 255).all()


def test_palette_png():
    colours = [(255, 0, 0), (0, 0, 255)]
    p = Image.new("P", (4, 2))
    p.putpalette([v for c in colours for v in c] + [0] * (256 - 2) * 3)
    p.putdata([0, 1, 0, 1, 1, 1, 0, 0])
    out = decode_image(pil_bytes(p, "PNG"))
    assert out.shape == (2, 4, 3)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [0, 0, 255]
    assert out[1, 3].tolist() == [255, 0, 0]


def test_palette_png_with_transparency():
    p = Image.new("P", (3, 1))
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 254 * 3)
    p.putdata([0, 1, 0])
    out = decode_image(pil_bytes(p, "PNG", transparency=0))
    assert out[0].tolist() == [[255, 255, 255], [0, 255, 0], [255, 255, 255]]


def test_16bit_grayscale_png():
    values = np.array([[65535, 32896], [0, 257]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    out = decode_image(pil_bytes(image, "PNG"))
    assert out.shape == (2, 2, 3)
    assert out[..., 0].tolist() == [[255, 128], [0, 1]]
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_dark_16bit_png_stays_dark():
    # all values <= 255 on a 16-bit scale are nearly black, not bright 8-bit values
    values = np.array([[255, 128, 0]], dtype=np.uint16)
    out = decode_image(pil_bytes(Image.fromarray(values), "PNG"))
    assert out[..., 0].tolist() == [[1, 0, 0]]


def test_cmyk_jpeg():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red
    out = decode_image(pil_bytes(cmyk, "JPEG", quality=95))
    assert out.shape == (16, 16, 3)
    assert out[..., 0].min() > 240 and out[..., 1:].max() < 15


def test_animated_gif_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_image(data)
    assert out.shape == (8, 8, 3)
    assert (out == [255, 0, 0]).all()


def test_exif_orientation_applied():
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, :10] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = pil_bytes(Image.fromarray(image), "JPEG", exif=exif.tobytes(), quality=100)
    out = decode_image(data)
    assert out.shape == (20, 10, 3)  # width and height swapped
    # the left half ends up on top after a clockwise rotation
    assert out[:8].mean() > 240 and out[12:].mean() < 15


def test_exif_orientation_png():
    image = np.zeros((10, 20, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 8
    out = decode_image(pil_bytes(Image.fromarray(image), "PNG", exif=exif.tobytes()))
    assert out.shape == (20, 10, 3)


def test_webp_and_bmp():
    image = random_image(3, (12, 12))
    np.testing.assert_array_equal(decode_image(encode(image, ".bmp")), image)
    out = decode_image(pil_bytes(Image.fromarray(image), "WEBP", lossless=True))
    np.testing.assert_array_equal(out, image)


def test_one_pixel_image():
    out = decode_image(encode(np.array([[[1, 2, 3]]], np.uint8), ".png"))
    assert out.shape == (1, 1, 3) and out[0, 0].tolist() == [1, 2, 3]
    out = decode_image(encode(np.full((1, 1, 3), 128, np.uint8), ".jpg"))
    assert out.shape == (1, 1, 3)
    assert np.abs(out.astype(int) - 128).max() <= 2


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file (0 bytes)"),
        (b"hello, this is a text file\n", "not an image"),
        (b"\xff\xd8\xff", "not an image, or a format that cannot be read"),
    ],
)
def test_invalid_bytes(data, message):
    with pytest.raises(ImageError, match=re.escape(message)):
        decode_image(data)


def test_truncated_jpeg():
    data = encode(random_image(4, (64, 64)), ".jpg")
    with pytest.raises(ImageError, match="truncated or corrupt image data"):
        decode_image(data[: len(data) // 2])


def test_truncated_png():
    data = encode(random_image(5, (64, 64)), ".png")
    with pytest.raises(ImageError, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_huge_declared_png_refused():
    data = patch_png_size(pil_bytes(Image.new("RGB", (4, 4)), "PNG"), 100_000, 100_000)
    with pytest.raises(ImageError, match="too large"):
        decode_image(data)


def test_png_above_max_pixels_refused():
    side = int(MAX_PIXELS**0.5) + 10  # above our limit, below Pillow's own bomb limit
    data = patch_png_size(pil_bytes(Image.new("L", (4, 4)), "PNG"), side, side)
    with pytest.raises(ImageError, match=rf"image too large: {side}x{side} pixels declared"):
        decode_image(data)


def test_huge_declared_jpeg_refused_before_decoding():
    data = bytearray(encode(random_image(6, (16, 16)), ".jpg"))
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    data[sof + 5 : sof + 9] = struct.pack(">HH", 30_000, 30_000)  # 900 megapixels
    with pytest.raises(ImageError, match="too large"):
        decode_image(bytes(data))


# --- resize_square / enlarge --------------------------------------------------------------------


def test_downscale_uses_area_interpolation():
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checker[:, :, None], 3, axis=2)
    out = resize_square(image, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(float) - 127.5).max() <= 0.5  # every 2x2 block averaged


def test_downscale_blocks_mean_preserving():
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    image = enlarge(blocks, 2)  # 64x64 made of 2x2 blocks
    np.testing.assert_array_equal(resize_square(image, 32), blocks)


def test_downscale_non_square():
    image = np.full((48, 40, 3), 90, np.uint8)
    out = resize_square(image, 32)
    assert out.shape == (32, 32, 3) and (out == 90).all()


def test_upscale_shape():
    image = random_image(7, (16, 16))
    out = resize_square(image, 48)
    assert out.shape == (48, 48, 3) and out.dtype == np.uint8
    assert abs(out.mean() - image.mean()) < 3


def test_same_size_unchanged():
    image = random_image(8, (32, 32))
    assert resize_square(image, 32) is image


def test_enlarge():
    image = random_image(9, (5, 7))
    out = enlarge(image, 3)
    assert out.shape == (15, 21, 3)
    for y in range(5):
        for x in range(7):
            block = out[3 * y : 3 * y + 3, 3 * x : 3 * x + 3]
            assert (block == image[y, x]).all()
    assert enlarge(image, 1).shape == image.shape


def test_cv2_matches_pillow_on_jpeg():
    # the OpenCV fast path and the Pillow path decode the same JPEG to nearly the same pixels
    data = encode(random_image(10, (32, 32)), ".jpg")
    from core.data.imageio import _decode_with_pillow

    diff = np.abs(decode_image(data).astype(int) - _decode_with_pillow(data).astype(int))
    assert diff.max() <= 4 and diff.mean() < 1
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
