/**
 * `podnet map`: the cluster's address space as one static, self-contained picture. Pure: an `IpamView` (the
 * numbers of `podnet ipam show`) and the NSGs' subnets in, an SVG or HTML string out; no script, no external
 * resource, so the file opens anywhere and can be attached to a ticket.
 *
 * Drawn: the VNet with its subnets (an NSG boundary as a dashed frame with the NSG's name) and their nodes,
 * the pod CIDR as a grid with one cell per /24 block coloured by the use of its node (quarantined blocks
 * hatched, free ones blank), and the service CIDR with the DNS service IP. Readable at 5,000 nodes: past
 * MAX_CELLS blocks a cell stands for 2^k consecutive blocks, and a subnet lists its busiest nodes and counts
 * the rest.
 */
import { parseCidr } from '../addr/index.js';
import type { IpamView, NodeBlock } from '../ipam/show.js';

export interface MapInput {
  view: IpamView;
  vnet: { name: string; addressSpaces: string[] };
  /** NSG name per subnet name, where an NSG is associated. */
  nsgBySubnet: Record<string, string>;
  /** Nodes per subnet the profile plans, for a map drawn before any node exists (`-f profile`). */
  plannedNodes?: Record<string, number>;
}

/** Cells in a pod CIDR grid before consecutive blocks share a cell. */
export const MAX_CELLS = 4096;
/** Nodes named in a subnet box; the rest are counted. */
export const MAX_NODES_SHOWN = 24;

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
const n = (x: number) => x.toLocaleString('en-US');

/** Use 0..1 as a colour from pale green to deep red (readable in print and for most colour blindness). */
export function useColour(use: number): string {
  const u = Math.max(0, Math.min(1, use));
  const stops = [
    [199, 233, 192],
    [253, 174, 97],
    [215, 48, 39],
  ];
  const [a, b, t] = u < 0.5 ? [stops[0], stops[1], u * 2] : [stops[1], stops[2], (u - 0.5) * 2];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

interface Cell {
  state: 'leased' | 'quarantined' | 'free' | 'mixed';
  use: number;
  title: string;
}

/** The pod CIDR's cells: each the blocks it stands for, the state they share, and a tooltip. */
function podCidrCells(
  view: IpamView,
  cidrIndex: number,
): { cells: Cell[]; perCell: number; columns: number } {
  const pc = view.podCidrs[cidrIndex];
  const total = pc.totalBlocks;
  let perCell = 1;
  while (total / perCell > MAX_CELLS) perCell *= 2;
  const count = Math.ceil(total / perCell);
  const cidr = parseCidr(pc.cidr);
  const step = 2n ** BigInt((cidr.family === 4 ? 32 : 128) - pc.blockPrefix);
  const indexOf = (block: string) => {
    const b = parseCidr(block);
    if (b.family !== cidr.family || b.network < cidr.network) return -1;
    const i = (b.network - cidr.network) / step;
    return i < BigInt(total) ? Number(i) : -1;
  };
  const leased = new Map<number, NodeBlock[]>();
  for (const node of view.nodes) {
    const i = indexOf(node.block);
    if (i >= 0) leased.set(Math.floor(i / perCell), [...(leased.get(Math.floor(i / perCell)) ?? []), node]);
  }
  const quarantined = new Map<number, string[]>();
  for (const q of view.quarantined) {
    const i = indexOf(q.block);
    if (i >= 0)
      quarantined.set(Math.floor(i / perCell), [
        ...(quarantined.get(Math.floor(i / perCell)) ?? []),
        q.block,
      ]);
  }
  const cells: Cell[] = [];
  for (let c = 0; c < count; c++) {
    const nodes = leased.get(c) ?? [];
    const held = quarantined.get(c) ?? [];
    const use =
      nodes.length === 0
        ? 0
        : nodes.reduce((a, x) => a + x.usedPods / Math.max(1, x.maxPods), 0) / nodes.length;
    const free = perCell - nodes.length - held.length;
    const state: Cell['state'] =
      nodes.length === perCell
        ? 'leased'
        : held.length === perCell
          ? 'quarantined'
          : free === perCell
            ? 'free'
            : 'mixed';
    const title =
      perCell === 1
        ? nodes[0]
          ? `${nodes[0].block}: node ${nodes[0].node} (${nodes[0].nodeIp}), ${nodes[0].usedPods}/${nodes[0].maxPods} pods`
          : held[0]
            ? `${held[0]}: quarantined`
            : 'free block'
        : `${perCell} blocks: ${nodes.length} leased, ${held.length} quarantined, ${free} free; mean use ${Math.round(use * 100)}%`;
    cells.push({ state, use, title });
  }
  return { cells, perCell, columns: Math.min(64, Math.ceil(Math.sqrt(count))) };
}

const CELL = 12;
const GAP = 2;

function gridSvg(
  view: IpamView,
  i: number,
  x: number,
  y: number,
): { svg: string; height: number; width: number } {
  const pc = view.podCidrs[i];
  const { cells, perCell, columns } = podCidrCells(view, i);
  const parts: string[] = [];
  const title = `pod CIDR ${pc.cidr}: ${n(pc.totalBlocks)} /${pc.blockPrefix} blocks, ${n(pc.leasedBlocks)} leased, ${n(pc.quarantinedBlocks)} quarantined, ${n(pc.freeBlocks)} free (${n(pc.addableNodes)} more nodes fit)${perCell > 1 ? `; one cell = ${perCell} blocks` : ''}`;
  parts.push(`<text x="${x}" y="${y + 14}" class="h2">${esc(title)}</text>`);
  cells.forEach((c, k) => {
    const cx = x + (k % columns) * (CELL + GAP);
    const cy = y + 24 + Math.floor(k / columns) * (CELL + GAP);
    const fill =
      c.state === 'free' ? '#ffffff' : c.state === 'quarantined' ? 'url(#hatch)' : useColour(c.use);
    parts.push(
      `<rect class="block ${c.state}" x="${cx}" y="${cy}" width="${CELL}" height="${CELL}" fill="${fill}"><title>${esc(c.title)}</title></rect>`,
    );
  });
  const rows = Math.ceil(cells.length / columns);
  return {
    svg: `<g id="pod-cidr-${i}" class="pod-cidr">${parts.join('')}</g>`,
    height: 24 + rows * (CELL + GAP) + 16,
    width: columns * (CELL + GAP),
  };
}

function subnetSvg(input: MapInput, x: number, y: number, width: number): { svg: string; height: number } {
  const parts: string[] = [];
  let cy = y + 28;
  for (const s of input.view.subnets) {
    const nodes = input.view.nodes.filter((x) => x.subnet === s.name).sort((a, b) => b.usedPods - a.usedPods);
    const shown = nodes.slice(0, MAX_NODES_SHOWN);
    const perRow = Math.max(1, Math.floor((width - 24) / 150));
    const rows = Math.ceil(shown.length / perRow);
    const boxH = 44 + rows * 40 + (nodes.length > shown.length ? 18 : 0);
    const nsg = input.nsgBySubnet[s.name];
    const planned = input.plannedNodes?.[s.name];
    parts.push(`<g class="subnet" id="subnet-${esc(s.name)}">`);
    parts.push(
      `<rect x="${x + 10}" y="${cy}" width="${width - 20}" height="${boxH}" rx="4" class="subnet-box"/>`,
    );
    if (nsg) {
      parts.push(
        `<rect x="${x + 6}" y="${cy - 4}" width="${width - 12}" height="${boxH + 8}" rx="6" class="nsg"><title>NSG ${esc(nsg)}</title></rect>`,
        `<text x="${x + width - 12}" y="${cy + 12}" text-anchor="end" class="nsg-label">NSG ${esc(nsg)}</text>`,
      );
    }
    parts.push(
      `<text x="${x + 18}" y="${cy + 16}" class="h3">subnet ${esc(s.name)} ${esc(s.cidr)}</text>`,
      `<text x="${x + 18}" y="${cy + 32}" class="small">${n(s.nodes)} node${s.nodes === 1 ? '' : 's'}${planned !== undefined && s.nodes === 0 ? ` (${n(planned)} planned)` : ''}, ${n(s.freeAddresses)} of ${n(s.usableAddresses)} addresses free</text>`,
    );
    shown.forEach((node, k) => {
      const nx = x + 18 + (k % perRow) * 150;
      const ny = cy + 42 + Math.floor(k / perRow) * 40;
      const use = node.usedPods / Math.max(1, node.maxPods);
      parts.push(
        `<g class="node"><rect x="${nx}" y="${ny}" width="142" height="34" rx="3" class="node-box"/>`,
        `<text x="${nx + 5}" y="${ny + 13}" class="small b">${esc(node.node.length > 22 ? `${node.node.slice(0, 21)}…` : node.node)}</text>`,
        `<text x="${nx + 5}" y="${ny + 26}" class="tiny">${esc(node.nodeIp)} · ${esc(node.block)}</text>`,
        `<rect x="${nx + 112}" y="${ny + 4}" width="26" height="8" class="bar"/><rect x="${nx + 112}" y="${ny + 4}" width="${Math.max(1, Math.round(26 * use))}" height="8" fill="${useColour(use)}"/>`,
        `<title>${esc(`${node.node} ${node.nodeIp}: block ${node.block}, ${node.usedPods}/${node.maxPods} pods`)}</title></g>`,
      );
    });
    if (nodes.length > shown.length)
      parts.push(
        `<text x="${x + 18}" y="${cy + boxH - 6}" class="small">+ ${n(nodes.length - shown.length)} more nodes (the ${shown.length} busiest are shown)</text>`,
      );
    parts.push('</g>');
    cy += boxH + 14;
  }
  const vnet = input.vnet;
  const frame = `<rect x="${x}" y="${y}" width="${width}" height="${cy - y}" rx="6" class="vnet"/><text x="${x + 10}" y="${y + 18}" class="h2">VNet ${esc(vnet.name)} ${esc(vnet.addressSpaces.join(', '))}</text>`;
  return { svg: `<g id="vnet">${frame}${parts.join('')}</g>`, height: cy - y };
}

const STYLE = `
.h1{font:600 18px sans-serif}.h2{font:600 13px sans-serif}.h3{font:600 12px sans-serif}
.small{font:11px sans-serif}.tiny{font:9px monospace}.b{font-weight:600}
.vnet{fill:#f4f8fc;stroke:#4a78a8;stroke-width:1.5}.subnet-box{fill:#fff;stroke:#8aa9c8}
.nsg{fill:none;stroke:#c0392b;stroke-width:1.5;stroke-dasharray:6 3}.nsg-label{font:600 10px sans-serif;fill:#c0392b}
.node-box{fill:#fafafa;stroke:#bbb}.bar{fill:#eee;stroke:#ccc;stroke-width:.5}
.block{stroke:#999;stroke-width:.5}.svc{fill:#f6f1fb;stroke:#7d5ba6}`;

/** The map as one SVG document. */
export function renderMapSvg(input: MapInput): string {
  const { view } = input;
  const left = 10;
  const vnetWidth = 520;
  const gridX = left + vnetWidth + 30;
  let y = 40;
  const grids: string[] = [];
  let gridWidth = 300;
  for (let i = 0; i < view.podCidrs.length; i++) {
    const g = gridSvg(view, i, gridX, y);
    grids.push(g.svg);
    y += g.height;
    gridWidth = Math.max(gridWidth, g.width);
  }
  const svcY = y + 6;
  const svc = `<g id="service-cidr"><rect x="${gridX}" y="${svcY}" width="${Math.max(gridWidth, 300)}" height="44" rx="4" class="svc"/><text x="${gridX + 8}" y="${svcY + 18}" class="h3">service CIDR ${esc(view.serviceCidrs.join(', '))}</text><text x="${gridX + 8}" y="${svcY + 34}" class="small" id="dns-ip">DNS service IP ${esc(view.dnsServiceIP)} (kube-dns)</text></g>`;
  const legendY = svcY + 60;
  const legend = [
    ['free', '#ffffff'],
    ['leased, idle', useColour(0)],
    ['leased, half full', useColour(0.5)],
    ['leased, full', useColour(1)],
    ['quarantined', 'url(#hatch)'],
  ]
    .map(
      ([label, fill], i) =>
        `<rect x="${gridX + i * 110}" y="${legendY}" width="${CELL}" height="${CELL}" fill="${fill}" class="block"/><text x="${gridX + i * 110 + 16}" y="${legendY + 10}" class="small">${label}</text>`,
    )
    .join('');
  const vnet = subnetSvg(input, left, 40, vnetWidth);
  const width = gridX + Math.max(gridWidth, 560) + 20;
  const height = Math.max(legendY + 30, 40 + vnet.height + 20);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="podnet address map of cluster ${esc(view.cluster)}">`,
    `<style>${STYLE}</style>`,
    '<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#ddd"/><line x1="0" y1="0" x2="0" y2="4" stroke="#888" stroke-width="1.5"/></pattern></defs>',
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="24" class="h1">podnet address map: cluster ${esc(view.cluster)}</text>`,
    vnet.svg,
    ...grids,
    svc,
    `<g id="legend">${legend}</g>`,
    '</svg>',
  ].join('\n');
}

/** The map as one self-contained HTML page: the SVG, and the numbers as tables for search and copy. */
export function renderMapHtml(input: MapInput): string {
  const { view } = input;
  const rows = (cells: (string | number)[][]) =>
    cells
      .map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === 'number' ? n(c) : c)}</td>`).join('')}</tr>`)
      .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>podnet map: ${esc(view.cluster)}</title>
<style>body{font:13px sans-serif;margin:16px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#f0f0f0}</style>
</head><body>
<main>
${renderMapSvg(input)}
<h2>Pod CIDRs</h2>
<table id="pod-cidrs"><tr><th>pod CIDR</th><th>blocks</th><th>leased</th><th>quarantined</th><th>free</th><th>more nodes (surge ${view.surgeNodes} kept)</th></tr>${rows(view.podCidrs.map((p) => [p.cidr, p.totalBlocks, p.leasedBlocks, p.quarantinedBlocks, p.freeBlocks, p.addableNodes]))}</table>
<h2>Subnets</h2>
<table id="subnets"><tr><th>subnet</th><th>CIDR</th><th>NSG</th><th>nodes</th><th>free addresses</th></tr>${rows(view.subnets.map((s) => [s.name, s.cidr, input.nsgBySubnet[s.name] ?? '-', s.nodes, s.freeAddresses]))}</table>
<p>Service CIDR ${esc(view.serviceCidrs.join(', '))}, DNS service IP ${esc(view.dnsServiceIP)}. Made by podnet map.</p>
</main>
</body></html>
`;
}
