// The register-ABI twin of seed_stack.c (gc Go 1.17 and later, ABIInternal on amd64).
//
// At the first instruction of main.ebpfDemo(a1 int, a2 bool, a3 float32) the integer
// arguments are in the first integer registers: a1 in RAX, a2 in RBX. a3 is in X0, which
// pt_regs does not hold, so it is not read here (lab/probe reads it from the function's first
// spill of X0 instead). The event keeps the stack program's layout so one decoder serves both.
//
// GOLAB_REWRITE_A1, when defined, is written into the saved RAX. Kernels that allow uprobe
// programs to change context registers (mainline 6.18+, or a backport) restore it into the
// thread on return from the probe; others refuse the store at load time.
#include <uapi/linux/ptrace.h>

BPF_PERF_OUTPUT(events);

typedef struct {
	u64   arg1;
	char  arg2;
	char  pad[3];
	float arg3;
} args_event_t;

int get_arguments(struct pt_regs *ctx) {
	args_event_t event = {};

	event.arg1 = ctx->ax;
	event.arg2 = (char)ctx->bx;

#ifdef GOLAB_REWRITE_A1
	ctx->ax = GOLAB_REWRITE_A1;
#endif

	events.perf_submit(ctx, &event, sizeof(event));
	return 0;
}
