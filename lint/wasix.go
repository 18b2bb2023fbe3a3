package lint

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// The host functions libpg_query's WebAssembly build imports from
// "wasix_32v1", as go-pgquery (MIT licence, (c) wasilibs authors) provides
// them: setjmp and longjmp, which PostgreSQL's error handling is built on,
// as a snapshot of the wasm stack plus a copy of the C stack; and the
// threading calls, which a module run by one goroutine never makes.

// checkpoint is one setjmp: where to return, and the C stack to restore.
type checkpoint struct {
	snapshot      experimental.Snapshot
	retValPtr     uint32
	cstackPointer uint32
	cstack        []byte
}

func (q *pgQuery) instantiateWASIX(ctx context.Context) error {
	const i32, i64 = api.ValueTypeI32, api.ValueTypeI64
	b := q.rt.NewHostModuleBuilder("wasix_32v1")
	export := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
	}
	export("stack_checkpoint", q.stackCheckpoint, []api.ValueType{i32, i32}, []api.ValueType{i32})
	export("stack_restore", q.stackRestore, []api.ValueType{i32, i64}, nil)
	export("proc_id", procID, []api.ValueType{i32}, []api.ValueType{i32})
	for _, f := range []struct {
		name            string
		params, results []api.ValueType
	}{
		{"callback_signal", []api.ValueType{i32, i32}, nil},
		{"futex_wait", []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
		{"futex_wake", []api.ValueType{i32, i32}, []api.ValueType{i32}},
		{"futex_wake_all", []api.ValueType{i32, i32}, []api.ValueType{i32}},
		{"thread_exit", []api.ValueType{i32}, nil},
		{"thread_signal", []api.ValueType{i32, i32}, []api.ValueType{i32}},
	} {
		export(f.name, unsupported(f.name), f.params, f.results)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// unsupported traps: the module makes these calls only when it runs
// threads or signals, which it never does here.
func unsupported(name string) api.GoModuleFunc {
	return func(context.Context, api.Module, []uint64) {
		panic(fmt.Sprintf("libpg_query called wasix_32v1.%s, which the linter does not provide", name))
	}
}

// procID answers that the module runs as process 1.
func procID(_ context.Context, m api.Module, stack []uint64) {
	m.Memory().WriteUint32Le(uint32(stack[0]), 1)
	stack[0] = 0 // errno: success
}

// stackCheckpoint is setjmp: it saves the execution state and the C stack
// and returns 0 through retValPtr; stackRestore later returns here again
// with its value.
func (q *pgQuery) stackCheckpoint(ctx context.Context, m api.Module, stack []uint64) {
	snapshotPtr, retValPtr := uint32(stack[0]), uint32(stack[1])
	sp := uint32(m.ExportedGlobal("__stack_pointer").Get())
	top := uint32(m.ExportedGlobal("__heap_base").Get())
	view, ok := m.Memory().Read(sp, top-sp)
	if !ok {
		panic(errMemory)
	}
	idx := len(q.checkpoints)
	q.checkpoints = append(q.checkpoints, checkpoint{
		snapshot:      experimental.GetSnapshotter(ctx).Snapshot(),
		retValPtr:     retValPtr,
		cstackPointer: sp,
		cstack:        append([]byte(nil), view...),
	})
	// struct StackSnapshot { u64 user; u128 hash; }: user carries the index.
	if !m.Memory().WriteUint64Le(snapshotPtr, uint64(idx)) || !m.Memory().WriteUint64Le(retValPtr, 0) {
		panic(errMemory)
	}
	stack[0] = 0
}

// stackRestore is longjmp to the checkpoint named in the snapshot.
func (q *pgQuery) stackRestore(_ context.Context, m api.Module, stack []uint64) {
	snapshotPtr, val := uint32(stack[0]), stack[1]
	idx, ok := m.Memory().ReadUint64Le(snapshotPtr)
	if !ok || idx >= uint64(len(q.checkpoints)) {
		panic(errMemory)
	}
	c := q.checkpoints[idx]
	m.ExportedGlobal("__stack_pointer").(api.MutableGlobal).Set(uint64(c.cstackPointer))
	m.Memory().Write(c.cstackPointer, c.cstack)
	m.Memory().WriteUint64Le(c.retValPtr, val)
	stack[0] = 0
	c.snapshot.Restore(stack[:1])
}
