/** The part of autocannon's programmatic API the bench uses (the package ships no types). */
declare module "autocannon" {
  interface Request {
    readonly method?: string
    readonly path?: string
    readonly body?: string
    readonly headers?: Record<string, string>
  }
  interface Options {
    readonly url: string
    readonly connections?: number
    readonly duration?: number
    readonly pipelining?: number
    readonly timeout?: number
    readonly requests?: ReadonlyArray<Request>
  }
  interface Histogram {
    readonly average: number
    readonly mean: number
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
    readonly total: number
  }
  interface Result {
    readonly requests: Histogram
    readonly latency: Histogram
    readonly throughput: Histogram
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
    readonly duration: number
    readonly "2xx": number
    readonly "4xx": number
    readonly "5xx": number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
