// The tutorial's tracee: main.ebpfDemo(100, true, 66.88), with legible Printf verbs.
//
// Its behaviour is the tutorial's: it calls ebpfDemo once and exits, so a tracer attached to
// the binary path before the process starts sees the call. With -wait it first blocks until
// it receives SIGUSR1 (or reads a line on stdin), so a tracer can attach to a running process.
// With -loop N it calls ebpfDemo N times (benchmarks and idempotence checks).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

//go:noinline
func ebpfDemo(a1 int, a2 bool, a3 float32) (r1 int64, r2 int32, r3 string) {
	fmt.Printf("ebpfDemo:: a1=%d, a2=%t a3=%.2f\n", a1, a2, a3)
	return 100, 200, "test for ebpf"
}

func main() {
	wait := flag.Bool("wait", false, "wait for SIGUSR1 or a line on stdin before calling ebpfDemo")
	loop := flag.Int("loop", 1, "how many times to call ebpfDemo")
	flag.Parse()

	if *wait {
		ready := make(chan os.Signal, 1)
		signal.Notify(ready, syscall.SIGUSR1)
		line := make(chan struct{}, 1)
		go func() {
			bufio.NewReader(os.Stdin).ReadString('\n')
			line <- struct{}{}
		}()
		fmt.Printf("ready pid=%d\n", os.Getpid())
		select {
		case <-ready:
		case <-line:
		}
	}

	for i := 0; i < *loop; i++ {
		r1, r2, r3 := ebpfDemo(100, true, 66.88)
		fmt.Printf("main:: r1=%d, r2=%d r3=%s\n", r1, r2, r3)
	}
}
