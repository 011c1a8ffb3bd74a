// Input problems: xDSL's diagnostic with file:line:col, exit status 1, and
// never a Python traceback.
// RUN: not fuse-opt %S/Inputs/parse_error.mlir 2>&1 | filecheck %s --check-prefix=PARSE
// RUN: not fuse-opt %S/Inputs/invalid.mlir 2>&1 | filecheck %s --check-prefix=VERIFY
// RUN: fuse-opt %S/Inputs/invalid.mlir --verify-diagnostics | filecheck %s --check-prefix=VERIFY
// RUN: not fuse-opt %S/Inputs/no-such-file.mlir 2>&1 | filecheck %s --check-prefix=MISSING

// PARSE-NOT: Traceback
// PARSE:     parse_error.mlir:3:{{[0-9]+}}
// PARSE:     Operation fuse.no_such_op is not registered
// PARSE-NOT: Traceback

// VERIFY-NOT: Traceback
// VERIFY:     fuse.einsum subscripts 'ik->i' name 1 operands, but it has 2
// VERIFY:     Operation does not verify: fuse.einsum subscripts 'ik->i' name 1 operands, but it has 2
// VERIFY-NOT: Traceback

// MISSING:     {{^}}fuse-opt: error: No such file or directory: '{{.*}}no-such-file.mlir'{{$}}
// MISSING-NOT: {{.}}
