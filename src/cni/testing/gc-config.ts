/**
 * A CNI GC config (cniVersion 1.1.0) carrying `cni.dev/valid-attachments` first, as a runtime that sorts keys
 * sends it: the large input of issue 14's fault 3, shared by the shim test and bench/shim.ts.
 */
export function gcConfig(attachments: number): string {
  return JSON.stringify({
    'cni.dev/valid-attachments': Array.from({ length: attachments }, (_, i) => ({
      containerID: `${i}`.padStart(64, 'c'),
      ifname: 'eth0',
    })),
    cniVersion: '1.1.0',
    name: 'podnet',
    type: 'podnet-cni',
  });
}

/** A GC config of about `bytes` bytes. */
export function gcConfigOfSize(bytes: number): string {
  const per = gcConfig(2).length - gcConfig(1).length;
  return gcConfig(Math.max(1, Math.floor((bytes - gcConfig(0).length) / per)));
}
