// The tutorial's program for the stack ABI (gc Go before 1.17, ABI0).
//
// At the first instruction of main.ebpfDemo(a1 int, a2 bool, a3 float32) the return PC is at
// sp+0 and the arguments follow in memory layout: a1 at sp+8 (8 bytes), a2 at sp+16 (1 byte),
// a3 at sp+20 (float32, 4-byte aligned).
//
// GOLAB_REWRITE_A1, when defined, is the value written over a1 with bpf_probe_write_user.
// Writing a constant is idempotent, which matters: an entry probe fires twice when the
// goroutine's stack has to grow and the function restarts from its first instruction.
#include <uapi/linux/ptrace.h>

BPF_PERF_OUTPUT(events);

typedef struct {
	u64   arg1;
	char  arg2;
	char  pad[3];
	float arg3;
} args_event_t;

int get_arguments(struct pt_regs *ctx) {
	void *stackAddr = (void *)ctx->sp;
	args_event_t event = {};

	bpf_probe_read_user(&event.arg1, sizeof(event.arg1), stackAddr + 8);
	bpf_probe_read_user(&event.arg2, sizeof(event.arg2), stackAddr + 16);
	bpf_probe_read_user(&event.arg3, sizeof(event.arg3), stackAddr + 20);

#ifdef GOLAB_REWRITE_A1
	long replacement = GOLAB_REWRITE_A1;
	bpf_probe_write_user(stackAddr + 8, &replacement, sizeof(replacement));
#endif

	events.perf_submit(ctx, &event, sizeof(event));
	return 0;
}
