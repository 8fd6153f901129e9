import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

/**
 * Headless Chromium (Debian's package, installed by .ci/run) to look at an HTML file as a person
 * would: a screenshot and a PDF, with no network, no profile and nothing kept afterwards.
 */

export const CHROMIUM = process.env.LIFEBOAT_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set LIFEBOAT_CHROMIUM)`);
  }
}

/** Renders `html`, returning the screenshot (PNG bytes) and the PDF (bytes). */
export async function render(
  html: string,
  options: { width: number; height: number },
): Promise<{ png: Buffer; pdf: Buffer }> {
  requireChromium();
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-chromium-'));
  try {
    const page = path.join(dir, 'page.html');
    await writeFile(page, html);
    const run = async (extra: string[]) => {
      // A new, empty profile for each run: nothing from an earlier run can change what is drawn.
      const profile = await mkdtemp(path.join(dir, 'profile-'));
      await promisify(execFile)(
        CHROMIUM,
        [...FLAGS, `--user-data-dir=${profile}`, ...extra, pathToFileURL(page).href],
        { timeout: 90_000 },
      );
    };
    const png = path.join(dir, 'shot.png');
    const pdf = path.join(dir, 'print.pdf');
    await run([`--window-size=${options.width},${options.height}`, `--screenshot=${png}`]);
    await run(['--no-pdf-header-footer', `--print-to-pdf=${pdf}`]);
    return { png: await readFile(png), pdf: await readFile(pdf) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pages of a PDF: its page objects (`/Type /Page`, not `/Pages`). */
export function pdfPages(pdf: Buffer): number {
  return pdf.toString('latin1').match(/\/Type\s*\/Page(?![A-Za-z])/g)?.length ?? 0;
}

export interface Image {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes a pixel, row by row. */
  readonly rgba: Buffer;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes). */
export function decodePng(png: Buffer): Image {
  if (png.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, color, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (color !== 2 && color !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, color type ${color}, interlace ${interlace}`);
      }
      channels = color === 6 ? 4 : 3;
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`unknown PNG filter ${filter}`);
      line[i] = (line[i]! + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      out[o] = line[x * channels]!;
      out[o + 1] = line[x * channels + 1]!;
      out[o + 2] = line[x * channels + 2]!;
      out[o + 3] = channels === 4 ? line[x * channels + 3]! : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}

/** Pixels in a rectangle for which `match(r, g, b)` holds. */
export function countPixels(
  image: Image,
  box: { x: number; y: number; width: number; height: number },
  match: (r: number, g: number, b: number) => boolean,
): number {
  let n = 0;
  for (let y = box.y; y < Math.min(image.height, box.y + box.height); y++) {
    for (let x = box.x; x < Math.min(image.width, box.x + box.width); x++) {
      const o = (y * image.width + x) * 4;
      if (match(image.rgba[o]!, image.rgba[o + 1]!, image.rgba[o + 2]!)) n++;
    }
  }
  return n;
}

export const notWhite = (r: number, g: number, b: number) => r < 245 || g < 245 || b < 245;

/** Within `tolerance` of a #rrggbb colour, each channel (anti-aliasing blends edges). */
export function near(hex: string, tolerance = 40) {
  const [R, G, B] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number,
  ];
  return (r: number, g: number, b: number) =>
    Math.abs(r - R) <= tolerance && Math.abs(g - G) <= tolerance && Math.abs(b - B) <= tolerance;
}
