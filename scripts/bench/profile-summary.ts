/**
 * Where a server's CPU went: `tsx scripts/bench/profile-summary.ts <file.cpuprofile> [top]`
 * prints self time by package (or project file) and by function, busiest first. Profiles come
 * from `BENCH_CPU_PROF=<dir> npm run bench`, or from the bench itself when the service misses
 * its CPU target (it prints where its time goes against bare Fastify's).
 */
import { summariseProfile, topLines } from './cpu-profile.js'

const [file, count = '25'] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
const { busyMicros, byOrigin, byFunction } = summariseProfile(file)
console.log(`busy ${(busyMicros / 1000).toFixed(0)} ms (idle and (program) left out)\n\nby package or file:`)
console.log(topLines(byOrigin, busyMicros, Number(count)).join('\n'))
console.log('\nby function:')
console.log(topLines(byFunction, busyMicros, Number(count)).join('\n'))
