// What the load benches read from /proc: a process's CPU time and memory, and the CPU pressure
// of the whole machine (how much of the time runnable tasks waited for a CPU).
import { readFileSync } from "node:fs";

/** CPU seconds (user + system) process `pid` has used so far. */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

/** Resident memory of process `pid`, in bytes. */
export function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? NaN : Number(match[1]) * 1024;
}

/**
 * The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI "some"), in
 * percent: near 100 on a machine busy with other work, whose latencies then include that wait.
 */
export function cpuPressure(): number {
  const match = /some avg10=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"));
  return match === null ? NaN : Number(match[1]);
}
