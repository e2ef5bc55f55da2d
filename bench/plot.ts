// The benchmark's plot, drawn from its own records: time until all N streams are Running against N, for this
// operator, the upstream Go operator and the floor (log scales both ways, one line per plugin and contender).
import type { BurstRecord } from './report.ts';

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 70, right: 190, top: 40, bottom: 50 };
const CONTENDERS = [
  { key: 'operator', name: 'this operator', colour: '#1f77b4' },
  { key: 'upstream', name: 'upstream Go operator', colour: '#ff7f0e' },
  { key: 'floor', name: 'floor (direct writes)', colour: '#555555' },
] as const;
const DASHES: Record<string, string> = { test: '', production: '6 4' };

interface Point {
  streams: number;
  seconds: number;
}

/** Powers of ten from `low` to `high`, and the 2x and 5x steps between them unless the range spans many decades. */
function ticks(low: number, high: number): number[] {
  const out: number[] = [];
  const steps = Math.log10(high / low) < 3 ? [1, 2, 5] : [1];
  for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high * 10; decade *= 10) {
    for (const step of steps) if (decade * step >= low && decade * step <= high) out.push(decade * step);
  }
  return out;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const label = (value: number) => (value >= 1_000 ? `${value / 1_000}k` : String(value));

const complete = (record: BurstRecord) => Boolean(record.operator && record.upstream && record.floor);

/**
 * The newest record of each plugin and stream count, ordered by plugin then count. A run of all three contenders wins
 * over any partial one (such as a check of one contender); without one, the newest run of each set of contenders.
 */
export function latest(records: readonly BurstRecord[]): BurstRecord[] {
  const key = (record: BurstRecord) => `${record.plugin} ${record.streams}`;
  const contenders = (record: BurstRecord) => CONTENDERS.filter((c) => record[c.key]).map((c) => c.key);
  const withAllThree = new Set(records.filter(complete).map(key));
  // Newest first: a record stays if it shows a contender no newer record of its plugin and N shows.
  const shown: BurstRecord[] = [];
  const covered = new Map<string, Set<string>>();
  for (const record of [...records].reverse()) {
    if (withAllThree.has(key(record)) && !complete(record)) continue;
    const seen = covered.get(key(record)) ?? new Set<string>();
    const fresh = contenders(record).filter((contender) => !seen.has(contender));
    if (fresh.length === 0) continue;
    for (const contender of fresh) seen.add(contender);
    covered.set(key(record), seen);
    shown.push(record);
  }
  return shown.reverse().sort((a, b) => a.plugin.localeCompare(b.plugin) || a.streams - b.streams);
}

export function plotSvg(records: readonly BurstRecord[]): string {
  const shown = latest(records);
  const series: { name: string; colour: string; dash: string; points: Point[] }[] = [];
  for (const plugin of [...new Set(shown.map((record) => record.plugin))]) {
    for (const contender of CONTENDERS) {
      const points = shown
        .filter((record) => record.plugin === plugin && record[contender.key])
        .map((record) => ({ streams: record.streams, seconds: record[contender.key]!.totalMs / 1_000 }));
      if (points.length > 0) {
        const dash = DASHES[plugin] ?? '2 3';
        series.push({ name: `${contender.name}, ${plugin} plugin`, colour: contender.colour, dash, points });
      }
    }
  }
  const all = series.flatMap((line) => line.points);
  const header = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`;
  if (all.length === 0) return `${header}<text x="20" y="30">no results yet</text></svg>\n`;

  const [nLow, nHigh] = [Math.min(...all.map((p) => p.streams)), Math.max(...all.map((p) => p.streams))];
  const [sLow, sHigh] = [Math.min(...all.map((p) => p.seconds)), Math.max(...all.map((p) => p.seconds))];
  // A little room on either side, and a range even when there is a single point.
  const xRange = [nLow / 1.5, nHigh * 1.5] as const;
  const yRange = [sLow / 1.5, sHigh * 1.5] as const;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const scale = (value: number, [low, high]: readonly [number, number], size: number) =>
    (Math.log(value / low) / Math.log(high / low)) * size;
  const x = (streams: number) => MARGIN.left + scale(streams, xRange, plotWidth);
  const y = (seconds: number) => MARGIN.top + plotHeight - scale(seconds, yRange, plotHeight);

  const parts = [header, '<rect width="100%" height="100%" fill="white"/>'];
  parts.push(
    `<text x="${MARGIN.left}" y="22" font-size="14">Burst of N streams: time until all are Running (newest run of each N)</text>`,
  );
  const bottom = MARGIN.top + plotHeight;
  // The counts that were run, rather than round numbers between them.
  for (const n of [...new Set(all.map((p) => p.streams))]) {
    parts.push(`<line x1="${x(n)}" y1="${MARGIN.top}" x2="${x(n)}" y2="${bottom}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${x(n)}" y="${bottom + 16}" text-anchor="middle">${label(n)}</text>`);
  }
  for (const s of ticks(...yRange)) {
    parts.push(
      `<line x1="${MARGIN.left}" y1="${y(s)}" x2="${MARGIN.left + plotWidth}" y2="${y(s)}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(s) + 4}" text-anchor="end">${s}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">streams (N, log scale)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">seconds to all Running (log scale)</text>`,
  );
  series.forEach((line, index) => {
    const points = [...line.points].sort((a, b) => a.streams - b.streams);
    const path = points.map((p) => `${x(p.streams).toFixed(1)},${y(p.seconds).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${path}" fill="none" stroke="${line.colour}" stroke-width="2" stroke-dasharray="${line.dash}"/>`,
    );
    for (const p of points) {
      parts.push(
        `<circle cx="${x(p.streams).toFixed(1)}" cy="${y(p.seconds).toFixed(1)}" r="3" fill="${line.colour}"/>`,
      );
    }
    const legendY = MARGIN.top + 10 + index * 18;
    const legendX = WIDTH - MARGIN.right + 12;
    parts.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 22}" y2="${legendY}" stroke="${line.colour}" stroke-width="2" stroke-dasharray="${line.dash}"/>`,
      `<text x="${legendX + 28}" y="${legendY + 4}" font-size="11">${escape(line.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
