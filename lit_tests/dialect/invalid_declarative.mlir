// Verifier errors of the declarative level, one per chunk.
// RUN: fuse-opt %s --split-input-file --verify-diagnostics | filecheck %s

fuse.program {
  fuse.tensor @A[i, j] : tensor<?xf32>
}

// CHECK: tensor @A has 2 indices but type tensor<?xf32> has rank 1

// -----

fuse.program {
  fuse.tensor @A[i, i] : tensor<?x?xf32>
}

// CHECK: tensor @A must declare distinct index names, got ['i', 'i']

// -----

fuse.program {
  fuse.tensor @A[i, 0] : tensor<?x?xf32>
}

// CHECK: tensor @A must declare distinct index names, got ['i', 0]

// -----

fuse.program {
  fuse.tensor @A[i] source "a.npy" input : tensor<?xf32>
}

// CHECK: tensor @A cannot be both a file source and a runtime input

// -----

fuse.tensor @A[i] : tensor<?xf32>

// CHECK: 'fuse.tensor' expects parent op 'fuse.program'

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.tensor @A[j] : tensor<?xf32>
}

// CHECK: Redefinition of symbol "A"

// -----

fuse.program {
  fuse.tensor @A[i] input : tensor<?xf32>
  fuse.rule @B[i] sum {
    %a = fuse.load @A[i] : !fuse.expr<i>
    fuse.yield %a : !fuse.expr<i>
  }
}

// CHECK: rule refers to undeclared tensor @B

// -----

fuse.program {
  fuse.tensor @A[i, j] : tensor<?x?xf32>
  fuse.rule @A[i] sum {
    %a = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %a : !fuse.expr<i, j>
  }
}

// CHECK: rule accesses @A with 1 indices, but it is declared with rank 2

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.rule @A[i] prod {
    %a = fuse.load @A[i] : !fuse.expr<i>
    fuse.yield %a : !fuse.expr<i>
  }
}

// CHECK: unknown projection 'prod', expected one of sum, max, mean

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.rule @A[i] sum {
    fuse.yield
  }
}

// CHECK: fuse.rule body must end in fuse.yield of one value

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.rule @A[i] sum {
    %c = arith.constant 1.0 : f32
    fuse.yield %c : f32
  }
}

// CHECK: the value yielded by fuse.rule must be a !fuse.expr, got f32

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.rule @A[i] sum {
    %a = fuse.load @A[i] : !fuse.expr<i>
  }
}

// CHECK: Operation fuse.load terminates block in single-block region but is not a terminator

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
}
fuse.rule @A[i] sum {
  %a = fuse.literal 1.0 : f32 -> !fuse.expr<>
  fuse.yield %a : !fuse.expr<>
}

// CHECK: 'fuse.rule' expects parent op 'fuse.program'

// -----

// A load outside any program cannot name a declared tensor.
func.func @f() {
  %a = fuse.load @A[i] : !fuse.expr<i>
  func.return
}

// CHECK: fuse.load refers to undeclared tensor @A

// -----

fuse.program {
  fuse.sink "out.npy" {
    fuse.yield
  }
}

// CHECK: fuse.sink body must end in fuse.yield of one value

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.export @Nope
}

// CHECK: export of undeclared tensor @Nope

// -----

fuse.program {
  fuse.tensor @A[i] : tensor<?xf32>
  fuse.sink "out.npy" {
    %a = fuse.load @Nope[i] : !fuse.expr<i>
    fuse.yield %a : !fuse.expr<i>
  }
}

// CHECK: fuse.load refers to undeclared tensor @Nope

// -----

fuse.program {
  fuse.tensor @A[i, j] : tensor<?x?xf32>
  fuse.sink "out.npy" {
    %a = fuse.load @A[i, j, k] : !fuse.expr<i, j, k>
    fuse.yield %a : !fuse.expr<i, j, k>
  }
}

// CHECK: fuse.load accesses @A with 3 indices, but it is declared with rank 2

// -----

fuse.program {
  fuse.tensor @A[i, j] : tensor<?x?xf32>
  fuse.sink "out.npy" {
    %a = "fuse.load"() <{tensor = @A, indices = #fuse.indices<i, j>}> : () -> !fuse.expr<j, i>
    fuse.yield %a : !fuse.expr<j, i>
  }
}

// CHECK: fuse.load of @A varies over ['i', 'j'], but its result type says ['j', 'i']

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal 2.0 : f32 -> !fuse.expr<i>
    fuse.yield %a : !fuse.expr<i>
  }
}

// CHECK: a scalar fuse.literal must have type !fuse.expr<>

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i, j>
    fuse.yield %a : !fuse.expr<i, j>
  }
}

// CHECK: fuse.literal of rank 1 cannot vary over ['i', 'j']

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.arith mod %a, %a : !fuse.expr<i>, !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: unknown fuse.arith function 'mod', expected one of add, sub, mul, div, pow, max

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<j>
    %c = "fuse.arith"(%a, %b) <{fn = "mul"}> : (!fuse.expr<i>, !fuse.expr<j>) -> !fuse.expr<j, i>
    fuse.yield %c : !fuse.expr<j, i>
  }
}

// CHECK: fuse.arith result must vary over ['i', 'j'], got ['j', 'i']

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = "fuse.negate"(%a) : (!fuse.expr<i>) -> !fuse.expr<j>
    fuse.yield %b : !fuse.expr<j>
  }
}

// CHECK: result 'result' at position 0 does not verify:

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.project prod [i] %a : !fuse.expr<i>
    fuse.yield %b : !fuse.expr<>
  }
}

// CHECK: unknown projection 'prod', expected one of sum, max, mean

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.project sum [k] %a : !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: fuse.project over 'k', which the operand ['i'] does not vary over

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = "fuse.project"(%a) <{kind = "sum", axes = #fuse.indices<i>}> : (!fuse.expr<i>) -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: fuse.project result must vary over [], got ['i']

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call frobnicate(%a) : (!fuse.expr<i>) -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: fuse.call of unknown builtin 'frobnicate'

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call relu(%a, %a) : (!fuse.expr<i>, !fuse.expr<i>) -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'relu' takes 1 arguments, got 2

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call softmax(%a) {temp = 1.0 : f32} : (!fuse.expr<i>) -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'softmax' has no keyword 'temp'

// -----

fuse.program {
  fuse.sink "out.npy" {
    %b = fuse.call causal_mask[i]() : () -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'causal_mask' takes 2 arguments, got 1

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call concat() {axis = "i"} : () -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'concat' takes at least 1 arguments, got 0

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call relu[i]() : () -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'relu' takes operands, not index names

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    %b = fuse.call even[i](%a) : (!fuse.expr<i>) -> !fuse.expr<i>
    fuse.yield %b : !fuse.expr<i>
  }
}

// CHECK: builtin 'even' takes index names, not operands

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = "fuse.literal"() <{value = 1.0 : f32}> : () -> !fuse.expr<i, i>
    fuse.yield %a : !fuse.expr<i, i>
  }
}

// CHECK: !fuse.expr lists each index once, got ['i', 'i']

// -----

fuse.program {
  fuse.sink "out.npy" {
    %a = "fuse.literal"() <{value = 1.0 : f32}> : () -> !fuse.expr<i, 0>
    fuse.yield %a : !fuse.expr<i, 0>
  }
}

// CHECK: !fuse.expr lists index names only, got ['i', 0]

// -----

fuse.program {
  fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
  fuse.facts @Parent dense<[[0, 1], [1, 3]]> : tensor<2x2xi64> values dense<1.0> : tensor<2xf32>
}

// CHECK: facts of @Parent: fact 1 at [1, 3] is outside the relation's shape [3, 3]

// -----

fuse.program {
  fuse.tensor @Parent[a, b] boolean : tensor<?x3xf32>
  fuse.facts @Parent dense<[[0, 1]]> : tensor<1x2xi64> values dense<1.0> : tensor<1xf32>
}

// CHECK: facts of @Parent: the relation needs a static shape, got tensor<?x3xf32>

// -----

fuse.program {
  fuse.program {
    fuse.tensor @A[i] input : tensor<?xf32>
  }
}

// CHECK: a fuse.program cannot be nested in another fuse.program
