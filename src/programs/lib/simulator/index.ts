/**
 * The workload simulator: `runSimulator` (the engine), the summary's Schema that `--json FILE`
 * is written with and machines decode with, and the verdict.
 */
export { displayUrl, runSimulator, type SimulatorOptions } from "./Engine.ts"
export {
  Counts,
  EndpointLatency,
  EndpointSummary,
  ensureReached,
  LatencySummary,
  SimulatorSummary,
  SimulatorSummaryJson,
  TargetNotReachedError,
} from "./Summary.ts"
export type { ClientChoice } from "./Transport.ts"
