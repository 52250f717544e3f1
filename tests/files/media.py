"""Test files generated in code: images (Pillow), documents, and hostile variants of them."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image, ImageDraw


def jpeg(width: int, height: int, *, quality: int = 85, exif: Image.Exif | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (40, 120, 200))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, max(1, width // 16)):
        draw.line([(x, 0), (width - x, height)], fill=(250, 200, 30), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif if exif is not None else b"")
    return buffer.getvalue()


def png(width: int, height: int, *, alpha: bool = False) -> bytes:
    mode = "RGBA" if alpha else "RGB"
    image = Image.new(mode, (width, height), (10, 200, 90, 128) if alpha else (10, 200, 90))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def encoded(width: int, height: int, fmt: str, **options: object) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 60))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def animated_gif(width: int, height: int, frames: int = 3) -> bytes:
    images = [Image.new("P", (width, height), i * 40) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100)
    return buffer.getvalue()


def oriented_jpeg_with_gps() -> bytes:
    """400x200 pixels stored, EXIF orientation 6 (display rotated 90° clockwise: 200x400), a GPS
    position. Left half red, right half blue: once rotated, red is on top."""
    image = Image.new("RGB", (400, 200), (255, 0, 0))
    ImageDraw.Draw(image).rectangle([200, 0, 399, 199], fill=(0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (6.0, 27.0, 0.0), 3: "E", 4: (3.0, 23.0, 0.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width``×``height`` with a few bytes of data (a pixel bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_corrupt(width: int, height: int) -> bytes:
    """A PNG with a valid header and pixel data that is not a zlib stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"\xde\xad\xbe\xef" * 64)
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(width: int, height: int) -> bytes:
    """A real, fully valid PNG of ``width``×``height`` black pixels: tiny once compressed."""
    row = b"\x00" + b"\x00" * (width * 3)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def gif_pixel_flood() -> bytes:
    """A GIF whose logical screen and single frame claim 65535×65535 pixels."""
    header = b"GIF89a" + struct.pack("<HH", 0xFFFF, 0xFFFF) + b"\x80\x00\x00"
    palette = b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHH", 0, 0, 0xFFFF, 0xFFFF) + b"\x00"
    image_data = b"\x02\x02\x4c\x01\x00"
    return header + palette + descriptor + image_data + b"\x3b"


def docx(text: str) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for line in text.split("\n"):
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_bomb(expanded_bytes: int = 64 * 1024 * 1024) -> bytes:
    """A DOCX-shaped ZIP whose document.xml expands to ``expanded_bytes`` of spaces."""
    real = zipfile.ZipFile(io.BytesIO(docx("bomb")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in real.infolist():
            if info.filename == "word/document.xml":
                with out.open("word/document.xml", "w") as member:
                    block = b" " * (1024 * 1024)
                    for _ in range(expanded_bytes // len(block)):
                        member.write(block)
            else:
                out.writestr(info, real.read(info.filename))
    return buffer.getvalue()


def pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)
