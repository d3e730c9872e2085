// Command hot calls one tiny function in a tight loop and reports how long the loop took.
// golab's benchmark (bench/) attaches uprobes to main.hot and compares the cost per call of
// each way of consuming them; the checksum lets a tracer prove it saw every call's values.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// hot is the traced function: kept out of line so every iteration really calls it.
//
//go:noinline
func hot(a int) int {
	return a*2 + 1
}

// clockThreadCPUTimeID is CLOCK_THREAD_CPUTIME_ID: CPU time of the calling thread only.
const clockThreadCPUTimeID = 3

// threadCPU is the calling thread's CPU time, user and system (uprobe handling is system
// time of the probed thread). Unlike wall time it leaves out waiting for a CPU, which on a
// shared machine would swamp the cost being measured.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

func main() {
	calls := flag.Int("n", 200000, "how many times to call hot")
	flag.Parse()
	// The loop runs on one OS thread, so the thread's CPU clock covers exactly the loop.
	runtime.LockOSThread()
	start, startCPU := time.Now(), threadCPU()
	checksum := 0
	for i := 0; i < *calls; i++ {
		checksum += hot(i)
	}
	elapsed, cpu := time.Since(start), threadCPU()-startCPU
	// One line, key=value, parsed by bench/tracee.ts.
	fmt.Printf("calls=%d elapsed_ns=%d cpu_ns=%d checksum=%d\n", *calls, elapsed.Nanoseconds(), cpu.Nanoseconds(), checksum)
}
