// The zoo: one Go program whose functions cover every argument and result shape the lab must
// locate and decode, under ABI0 (Go 1.15), ABIInternal (Go 1.17+) and System V (gccgo).
//
// Every traced function prints exactly what it received and what it returns, in ONE line:
//
//	zoo <Func> args <name>=<value> ... results <name>=<value> ...
//
// Values never contain spaces outside quoted strings, so tracee/zoo/output.ts can split a line
// into key=value pairs. Formats (chosen so a tracer can reproduce them exactly):
//
//	integers, uintptr  decimal
//	bool               true/false
//	float32/float64    strconv 'g' with the shortest round-trip precision of the type
//	complex            strconv.FormatComplex, shortest round-trip precision
//	string             %q
//	pointer            %p, then ->*p when non-nil (e.g. 0xc000012345->{X:3,Y:-4})
//	slice              [e0,e1,...](len=L,cap=C)
//	array              [e0,e1,...]
//	struct             {Field:value,...}
//	interface          nil, or <dynamic type>(<value>)
//
// Unnamed results are named r0, r1, ... by their index among the results.
//
// The zoo prints "ready pid=<pid>" and blocks until SIGUSR1 arrives or a line is read from
// stdin (an immediate EOF on stdin is ignored), so a tracer can attach before any call. Then it
// calls every function once with fixed, distinctive arguments, prints "zoo done" and exits.
//
// It must build with Go 1.15 through the newest release and with gccgo-12: no generics, no
// `any`, nothing from the standard library newer than Go 1.15.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// ---- formatting helpers (never traced; keep them simple and inlinable or not, it does not matter)

func f32(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }
func f64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
func c64(v complex64) string {
	return strconv.FormatComplex(complex128(v), 'g', -1, 64)
}
func c128(v complex128) string { return strconv.FormatComplex(v, 'g', -1, 128) }
func q(s string) string        { return strconv.Quote(s) }
func ptr(p interface{}) string { return fmt.Sprintf("%p", p) }

func int64s(xs []int64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatInt(x, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func bytesList(xs []byte) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(int(x))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func strList(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = q(x)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func sliceInfo(elems string, length, capacity int) string {
	return fmt.Sprintf("%s(len=%d,cap=%d)", elems, length, capacity)
}

// line prints one zoo line: the function name, then args and results as alternating name, value.
func line(fn string, args []string, results []string) {
	var b strings.Builder
	b.WriteString("zoo ")
	b.WriteString(fn)
	b.WriteString(" args")
	for i := 0; i+1 < len(args); i += 2 {
		b.WriteString(" " + args[i] + "=" + args[i+1])
	}
	b.WriteString(" results")
	for i := 0; i+1 < len(results); i += 2 {
		b.WriteString(" " + results[i] + "=" + results[i+1])
	}
	fmt.Println(b.String())
}

func kv(pairs ...string) []string { return pairs }

// ---- types

// Point is a small all-integer struct.
type Point struct {
	X int32
	Y int32
}

func (p Point) String() string { return fmt.Sprintf("{X:%d,Y:%d}", p.X, p.Y) }

// Vec is an all-float struct.
type Vec struct {
	X float64
	Y float64
}

func (v Vec) String() string { return "{X:" + f64(v.X) + ",Y:" + f64(v.Y) + "}" }

// Mixed mixes integer, float, string and bool fields.
type Mixed struct {
	ID     int32
	Weight float64
	Name   string
	OK     bool
}

func (m Mixed) String() string {
	return fmt.Sprintf("{ID:%d,Weight:%s,Name:%s,OK:%t}", m.ID, f64(m.Weight), q(m.Name), m.OK)
}

// Record holds a string, a slice and a float32: five integer registers and one float register.
type Record struct {
	Name  string
	Tags  []string
	Score float32
}

func (r Record) String() string {
	return "{Name:" + q(r.Name) + ",Tags:" + sliceInfo(strList(r.Tags), len(r.Tags), cap(r.Tags)) + ",Score:" + f32(r.Score) + "}"
}

// Grid contains a two-element array, which forces it onto the stack under ABIInternal.
type Grid struct {
	Cells [2]int32
	Tag   uint8
}

func (g Grid) String() string { return fmt.Sprintf("{Cells:[%d,%d],Tag:%d}", g.Cells[0], g.Cells[1], g.Tag) }

// Big has twelve words: too many registers, so it is stack-assigned under ABIInternal.
type Big struct {
	A, B, C, D, E, F, G, H, I, J, K, L int64
}

func (b Big) String() string {
	return fmt.Sprintf("{A:%d,B:%d,C:%d,D:%d,E:%d,F:%d,G:%d,H:%d,I:%d,J:%d,K:%d,L:%d}",
		b.A, b.B, b.C, b.D, b.E, b.F, b.G, b.H, b.I, b.J, b.K, b.L)
}

// Account has methods with a value receiver and with a pointer receiver.
type Account struct {
	ID      int64
	Balance int64
}

func (a Account) String() string { return fmt.Sprintf("{ID:%d,Balance:%d}", a.ID, a.Balance) }

// Shape is a non-empty interface.
type Shape interface {
	Area() float64
}

// Circle implements Shape through a value receiver.
type Circle struct {
	R float64
}

// Area is part of Shape.
func (c Circle) Area() float64 { return 3 * c.R * c.R }

func accountPtr(a *Account) string {
	if a == nil {
		return "0x0"
	}
	return ptr(a) + "->" + a.String()
}

func pointPtr(p *Point) string {
	if p == nil {
		return "0x0"
	}
	return ptr(p) + "->" + p.String()
}

func iface(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return "string(" + q(x) + ")"
	case float64:
		return "float64(" + f64(x) + ")"
	case fmt.Stringer:
		return fmt.Sprintf("%T(%s)", v, x.String())
	default:
		return fmt.Sprintf("%T(%v)", v, v)
	}
}

// String lets Circle print through iface's fmt.Stringer case.
func (c Circle) String() string { return "{R:" + f64(c.R) + "}" }

// ---- the traced functions: every one is //go:noinline except InlinedAdd

//go:noinline
func Int8s(a int8, b uint8) (int8, uint8) {
	r0, r1 := a-1, b+1
	line("Int8s", kv("a", strconv.Itoa(int(a)), "b", strconv.Itoa(int(b))),
		kv("r0", strconv.Itoa(int(r0)), "r1", strconv.Itoa(int(r1))))
	return r0, r1
}

//go:noinline
func Int16s(a int16, b uint16) int16 {
	r0 := a + int16(b%100)
	line("Int16s", kv("a", strconv.Itoa(int(a)), "b", strconv.Itoa(int(b))), kv("r0", strconv.Itoa(int(r0))))
	return r0
}

//go:noinline
func Int32s(a int32, b uint32) (sum int64, neg int32) {
	sum, neg = int64(a)+int64(b), -a
	line("Int32s", kv("a", strconv.Itoa(int(a)), "b", strconv.FormatUint(uint64(b), 10)),
		kv("sum", strconv.FormatInt(sum, 10), "neg", strconv.Itoa(int(neg))))
	return sum, neg
}

//go:noinline
func Int64s(a int64, b uint64) uint64 {
	r0 := b ^ uint64(a)
	line("Int64s", kv("a", strconv.FormatInt(a, 10), "b", strconv.FormatUint(b, 10)), kv("r0", strconv.FormatUint(r0, 10)))
	return r0
}

//go:noinline
func Words(a int, b uint, p uintptr) uintptr {
	r0 := p + uintptr(b) - uintptr(a)
	line("Words", kv("a", strconv.Itoa(a), "b", strconv.FormatUint(uint64(b), 10), "p", strconv.FormatUint(uint64(p), 10)),
		kv("r0", strconv.FormatUint(uint64(r0), 10)))
	return r0
}

//go:noinline
func Bools(a bool, b bool, n int8, c bool) (bool, bool) {
	r0, r1 := a && c, !b
	line("Bools", kv("a", strconv.FormatBool(a), "b", strconv.FormatBool(b), "n", strconv.Itoa(int(n)), "c", strconv.FormatBool(c)),
		kv("r0", strconv.FormatBool(r0), "r1", strconv.FormatBool(r1)))
	return r0, r1
}

//go:noinline
func Float32s(a float32, b float32) float32 {
	r0 := a * b
	line("Float32s", kv("a", f32(a), "b", f32(b)), kv("r0", f32(r0)))
	return r0
}

//go:noinline
func Float64s(a float64, b float64) (float64, float64) {
	r0, r1 := a+b, a-b
	line("Float64s", kv("a", f64(a), "b", f64(b)), kv("r0", f64(r0), "r1", f64(r1)))
	return r0, r1
}

//go:noinline
func Complexes(a complex64, b complex128) complex128 {
	r0 := complex128(a) * b
	line("Complexes", kv("a", c64(a), "b", c128(b)), kv("r0", c128(r0)))
	return r0
}

//go:noinline
func Strings(s string, t string) (joined string, n int) {
	joined, n = s+"|"+t, len(s)+len(t)
	line("Strings", kv("s", q(s), "t", q(t)), kv("joined", q(joined), "n", strconv.Itoa(n)))
	return joined, n
}

//go:noinline
func Slices(xs []int64, bs []byte) (int, []int64) {
	r0, r1 := len(bs), xs[1:]
	line("Slices", kv("xs", sliceInfo(int64s(xs), len(xs), cap(xs)), "bs", sliceInfo(bytesList(bs), len(bs), cap(bs))),
		kv("r0", strconv.Itoa(r0), "r1", sliceInfo(int64s(r1), len(r1), cap(r1))))
	return r0, r1
}

//go:noinline
func Pointers(n *int64, p *Point, none *Point) *int64 {
	*n++
	line("Pointers", kv("n", ptr(n)+"->"+strconv.FormatInt(*n-1, 10), "p", pointPtr(p), "none", pointPtr(none)),
		kv("r0", ptr(n)+"->"+strconv.FormatInt(*n, 10)))
	return n
}

//go:noinline
func StructInts(p Point, scale int32) Point {
	r0 := Point{p.X * scale, p.Y * scale}
	line("StructInts", kv("p", p.String(), "scale", strconv.Itoa(int(scale))), kv("r0", r0.String()))
	return r0
}

//go:noinline
func StructFloats(v Vec) (Vec, float64) {
	r0, r1 := Vec{v.Y, v.X}, v.X*v.Y
	line("StructFloats", kv("v", v.String()), kv("r0", r0.String(), "r1", f64(r1)))
	return r0, r1
}

//go:noinline
func StructMixed(m Mixed) (Mixed, bool) {
	r0 := Mixed{m.ID + 1, m.Weight * 2, m.Name + "!", !m.OK}
	line("StructMixed", kv("m", m.String()), kv("r0", r0.String(), "r1", strconv.FormatBool(m.OK)))
	return r0, m.OK
}

//go:noinline
func StructRecord(r Record, bonus float32) Record {
	r0 := Record{r.Name, r.Tags[:1], r.Score + bonus}
	line("StructRecord", kv("r", r.String(), "bonus", f32(bonus)), kv("r0", r0.String()))
	return r0
}

//go:noinline
func StructOnStack(g Grid, k int) (Grid, int32) {
	r0 := Grid{[2]int32{g.Cells[1], g.Cells[0]}, g.Tag + 1}
	r1 := g.Cells[0] + g.Cells[1] + int32(k)
	line("StructOnStack", kv("g", g.String(), "k", strconv.Itoa(k)), kv("r0", r0.String(), "r1", strconv.Itoa(int(r1))))
	return r0, r1
}

//go:noinline
func BigResult(seed int64) Big {
	r0 := Big{seed, seed + 1, seed + 2, seed + 3, seed + 4, seed + 5, seed + 6, seed + 7, seed + 8, seed + 9, seed + 10, seed + 11}
	line("BigResult", kv("seed", strconv.FormatInt(seed, 10)), kv("r0", r0.String()))
	return r0
}

//go:noinline
func EmptyInterface(v interface{}, w interface{}) interface{} {
	var r0 interface{} = "seen"
	line("EmptyInterface", kv("v", iface(v), "w", iface(w)), kv("r0", iface(r0)))
	return r0
}

//go:noinline
func ShapeArea(s Shape, factor float64) (Shape, float64) {
	r1 := s.Area() * factor
	var r0 Shape = Circle{R: factor}
	line("ShapeArea", kv("s", iface(s), "factor", f64(factor)), kv("r0", iface(r0), "r1", f64(r1)))
	return r0, r1
}

//go:noinline
func Arrays(z [0]int64, one [1]int32, two [2]int64, three [3]uint8) ([1]int32, [2]int64) {
	r0 := [1]int32{one[0] * 2}
	r1 := [2]int64{two[1], two[0]}
	line("Arrays", kv("z", "[]", "one", fmt.Sprintf("[%d]", one[0]), "two", fmt.Sprintf("[%d,%d]", two[0], two[1]),
		"three", fmt.Sprintf("[%d,%d,%d]", three[0], three[1], three[2])),
		kv("r0", fmt.Sprintf("[%d]", r0[0]), "r1", fmt.Sprintf("[%d,%d]", r1[0], r1[1])))
	return r0, r1
}

//go:noinline
func ZeroSize(e struct{}, n int, z [0]int64) (struct{}, int) {
	line("ZeroSize", kv("e", "{}", "n", strconv.Itoa(n), "z", "[]"), kv("r0", "{}", "r1", strconv.Itoa(n*3)))
	return struct{}{}, n * 3
}

//go:noinline
func ManyInts(a, b, c, d, e, f, g, h, i, j, k, l int64) (sum int64, last int64) {
	sum = a + b + c + d + e + f + g + h + i + j + k + l
	last = l
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	vals := []int64{a, b, c, d, e, f, g, h, i, j, k, l}
	var args []string
	for n := range names {
		args = append(args, names[n], strconv.FormatInt(vals[n], 10))
	}
	line("ManyInts", args, kv("sum", strconv.FormatInt(sum, 10), "last", strconv.FormatInt(last, 10)))
	return sum, last
}

//go:noinline
func ManyFloats(f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16 float64) float64 {
	vals := []float64{f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15, f16}
	var args []string
	var r0 float64
	for n, v := range vals {
		args = append(args, "f"+strconv.Itoa(n), f64(v))
		r0 += v
	}
	line("ManyFloats", args, kv("r0", f64(r0)))
	return r0
}

//go:noinline
func MixedArgs(a int, x float64, b int32, y float32, c uint8, z float64, s string) (float64, int, float32) {
	r0 := x + z
	r1 := a + int(b) + int(c) + len(s)
	r2 := y * 2
	line("MixedArgs", kv("a", strconv.Itoa(a), "x", f64(x), "b", strconv.Itoa(int(b)), "y", f32(y), "c", strconv.Itoa(int(c)),
		"z", f64(z), "s", q(s)), kv("r0", f64(r0), "r1", strconv.Itoa(r1), "r2", f32(r2)))
	return r0, r1, r2
}

//go:noinline
func (a Account) Describe(prefix string) string {
	r0 := fmt.Sprintf("%s#%d:%d", prefix, a.ID, a.Balance)
	line("Account.Describe", kv("a", a.String(), "prefix", q(prefix)), kv("r0", q(r0)))
	return r0
}

//go:noinline
func (a *Account) Transfer(to *Account, amount int64) (ok bool, balance int64) {
	before := accountPtr(a)
	beforeTo := accountPtr(to)
	if a.Balance >= amount {
		a.Balance -= amount
		to.Balance += amount
		ok = true
	}
	balance = a.Balance
	line("(*Account).Transfer", kv("a", before, "to", beforeTo, "amount", strconv.FormatInt(amount, 10)),
		kv("ok", strconv.FormatBool(ok), "balance", strconv.FormatInt(balance, 10)))
	return ok, balance
}

//go:noinline
func Divmod(a, b int) (q, r int, ok bool, msg string) {
	if b != 0 {
		q, r, ok = a/b, a%b, true
	}
	msg = fmt.Sprintf("%d/%d", a, b)
	line("Divmod", kv("a", strconv.Itoa(a), "b", strconv.Itoa(b)),
		kv("q", strconv.Itoa(q), "r", strconv.Itoa(r), "ok", strconv.FormatBool(ok), "msg", strconv.Quote(msg)))
	return q, r, ok, msg
}

//go:noinline
func Sum(label string, xs ...int) (int, string) {
	total := 0
	vals := make([]int64, len(xs))
	for i, x := range xs {
		total += x
		vals[i] = int64(x)
	}
	r1 := label + "=" + strconv.Itoa(total)
	line("Sum", kv("label", q(label), "xs", sliceInfo(int64s(vals), len(xs), cap(xs))), kv("r0", strconv.Itoa(total), "r1", q(r1)))
	return total, r1
}

//go:noinline
func NoArgs() {
	line("NoArgs", nil, nil)
}

// InlinedAdd is trivially small and has no //go:noinline, so gc inlines it into its caller and
// no call ever reaches its symbol (gccgo at -O0 keeps it as a real function). It cannot print
// for itself without becoming too expensive to inline; its caller prints its line.
func InlinedAdd(x int) int { return x + 1 }

// inlinedAddInput is InlinedAdd's argument; package variables are not constant-folded.
var inlinedAddInput = 41

// ---- driver

func waitForStart() {
	start := make(chan struct{}, 2)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		<-sig
		start <- struct{}{}
	}()
	go func() {
		// An immediate EOF (stdin is /dev/null or closed) must not start the zoo early.
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err == nil {
			start <- struct{}{}
		}
	}()
	fmt.Printf("ready pid=%d\n", os.Getpid())
	<-start
	signal.Stop(sig)
}

func main() {
	waitForStart()

	Int8s(-100, 200)
	Int16s(-30000, 60000)
	Int32s(-2000000000, 4000000000)
	Int64s(-9000000000000000000, 18000000000000000000)
	Words(-1234567, 7654321, 0xdeadbeef)
	Bools(true, false, -7, true)
	Float32s(66.88, -0.125)
	Float64s(3.141592653589793, 2.718281828459045)
	Complexes(complex(1.5, -2.25), complex(-0.5, 4))
	// s is built at run time, so its bytes live in writable memory and a same-length string
	// rewrite (bpf_probe_write_user on the data) can land; t, like every other string here, is a
	// literal in the binary's read-only segment, where the same write must be reported as refused.
	greeting := []byte("hello, zoo")
	Strings(string(greeting), "tab\there \"quoted\" é")
	xs := make([]int64, 3, 5)
	xs[0], xs[1], xs[2] = 10, -20, 30
	Slices(xs, []byte("GoZoo"))
	n := int64(41)
	Pointers(&n, &Point{X: 3, Y: -4}, nil)
	StructInts(Point{X: 7, Y: -9}, 3)
	StructFloats(Vec{X: 1.25, Y: -6.5})
	StructMixed(Mixed{ID: 77, Weight: 72.5, Name: "Ada", OK: true})
	StructRecord(Record{Name: "rec", Tags: []string{"alpha", "beta"}, Score: 9.75}, 0.5)
	StructOnStack(Grid{Cells: [2]int32{111, -222}, Tag: 9}, 1000)
	BigResult(5000)
	EmptyInterface(42, "forty-two")
	ShapeArea(Circle{R: 2.5}, 1.5)
	Arrays([0]int64{}, [1]int32{-321}, [2]int64{1111, -2222}, [3]uint8{7, 8, 9})
	ZeroSize(struct{}{}, 14, [0]int64{})
	ManyInts(1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12)
	ManyFloats(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5, 16.5)
	MixedArgs(-5, 2.5, 70000, 0.75, 250, -1e-300, "mixed")
	alice := &Account{ID: 1, Balance: 500}
	bob := &Account{ID: 2, Balance: 20}
	Account{ID: 3, Balance: 999}.Describe("acct")
	alice.Transfer(bob, 125)
	Divmod(47, 5)
	Sum("total", 4, 8, 15, 16, 23, 42)
	NoArgs()
	// x comes from a variable so the inlined add survives as code with InlinedAdd's position:
	// with a constant the call folds to 42 and leaves no trace in DWARF, and the lab could only
	// say "not found" instead of "inlined".
	x := inlinedAddInput
	r := InlinedAdd(x)
	line("InlinedAdd", kv("x", strconv.Itoa(x)), kv("r0", strconv.Itoa(r)))

	fmt.Println("zoo done")
}
