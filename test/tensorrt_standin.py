"""A stand-in for NVIDIA TensorRT's Python API -- the calls `core/model/tensorrt_backend.py`
makes -- that runs on the CPU: a "plan" is the ONNX file itself (behind a header recording the
builder flags), and executing it runs onnxruntime on the tensors found at the addresses given to
``set_tensor_address``, writing the outputs to theirs.

What it checks that mocks of single calls would not: the backend's builder calls and layer
precision pins on the real exported graph, the named-tensor binding (every I/O tensor bound,
shapes and dtypes as the engine reports them, output buffers the backend reads back), the cache
folder it writes, and the numbers end to end. What it cannot check: TensorRT's own parser, its
fp16 kernels and its CUDA streams (those need a GPU: test/gpu).

The API subset follows TensorRT 8.6 / 10.x (docs.nvidia.com/deeplearning/tensorrt, Python API:
Builder, INetworkDefinition, OnnxParser, IBuilderConfig, Runtime, ICudaEngine,
IExecutionContext). ``make_tensorrt("8.6.1")`` has no ``int64`` data type, as TensorRT 8.6
(JetPack 6.0) has none; ``make_tensorrt("11.x")`` no weak-typing builder flags (``FP16``,
``PREFER_PRECISION_CONSTRAINTS``, ``OBEY_PRECISION_CONSTRAINTS``), as TensorRT 11 removed them.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.machinery
import json
import types
from typing import Dict, List

import numpy as np

_MAGIC = b"TRT-STANDIN-PLAN\n"


class _DataType(enum.Enum):
    FLOAT = "float32"
    HALF = "float16"
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"


_ONNX_ELEM = {1: _DataType.FLOAT, 10: _DataType.HALF, 6: _DataType.INT32, 7: _DataType.INT64,
              9: _DataType.BOOL}
_UNARY = {"Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Sin", "Cos", "Erf", "Floor",
          "Ceil", "Not", "Sign", "Round", "Tanh"}
_REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
           "ReduceSumSquare"}


def make_tensorrt(version: str = "10.3.0") -> types.ModuleType:
    """A fresh ``tensorrt`` stand-in module of ``version`` (TensorRT < 9 lacks int64).

    ``module.builds`` lists one dict per `Builder.build_serialized_network` call (flags, the
    layers pinned to fp32, the ONNX opset), so a test can tell a cache hit from a rebuild."""
    trt = types.ModuleType("tensorrt")
    # torch.export looks modules up by their spec (a module without one makes it fail)
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = version
    major = int(version.split(".")[0])
    trt.builds = []

    trt.DataType = _DataType
    trt.float32, trt.float16, trt.int32, trt.bool = (_DataType.FLOAT, _DataType.HALF,
                                                     _DataType.INT32, _DataType.BOOL)
    if major >= 9:
        trt.int64 = _DataType.INT64

    class Logger:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

        def __init__(self, severity=2):
            self.severity = severity

    class NetworkDefinitionCreationFlag(enum.IntEnum):
        EXPLICIT_BATCH = 0  # deprecated and ignored from TensorRT 10 on, still defined

    if major >= 11:  # strongly typed networks only: the weak-typing flags are gone
        class BuilderFlag(enum.Enum):
            TF32 = "tf32"
    else:
        class BuilderFlag(enum.Enum):
            FP16 = "fp16"
            PREFER_PRECISION_CONSTRAINTS = "prefer_precision_constraints"
            OBEY_PRECISION_CONSTRAINTS = "obey_precision_constraints"

    class MemoryPoolType(enum.Enum):
        WORKSPACE = "workspace"

    class LayerType(enum.Enum):
        UNARY = "unary"
        REDUCE = "reduce"
        OTHER = "other"

    class TensorIOMode(enum.Enum):
        NONE, INPUT, OUTPUT = range(3)

    class _Layer:
        def __init__(self, node):
            self.name = node.name or node.op_type
            self.type = (LayerType.UNARY if node.op_type in _UNARY else
                         LayerType.REDUCE if node.op_type in _REDUCE else LayerType.OTHER)
            self.num_outputs = len(node.output)
            self.precision = _DataType.FLOAT
            self.precision_is_set = False
            self.output_types: Dict[int, _DataType] = {}

        def __setattr__(self, key, value):
            if key == "precision" and "precision" in self.__dict__:
                self.__dict__["precision_is_set"] = True
            super().__setattr__(key, value)

        def set_output_type(self, index: int, dtype) -> None:
            if not 0 <= index < self.num_outputs:
                raise IndexError(f"layer {self.name} has {self.num_outputs} outputs")
            self.output_types[index] = dtype

    class _Network:
        def __init__(self, flags: int):
            if major >= 10 and flags not in (0, 1 << int(NetworkDefinitionCreationFlag
                                                          .EXPLICIT_BATCH)):
                raise ValueError(f"unknown network flags {flags}")
            self.model = None
            self.layers: List[_Layer] = []

        @property
        def num_layers(self) -> int:
            return len(self.layers)

        def get_layer(self, i: int) -> _Layer:
            return self.layers[i]

    class OnnxParser:
        def __init__(self, network: _Network, logger: Logger):
            self.network, self.errors = network, []

        def parse_from_file(self, path: str) -> bool:
            import onnx

            try:
                model = onnx.load(path)  # external data beside the file too
                opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
                if major < 10 and opset > 17:
                    raise ValueError(f"opset {opset}: this TensorRT's parser reads up to 17")
                onnx.checker.check_model(model)
            except Exception as e:  # noqa: BLE001  the parser reports, it does not raise
                self.errors.append(str(e))
                return False
            self.network.model = model
            self.network.layers = [_Layer(n) for n in model.graph.node]
            return True

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> str:
            return self.errors[i]

    class _Config:
        def __init__(self):
            self.flags, self.pools = set(), {}

        def set_flag(self, flag) -> None:
            if not isinstance(flag, BuilderFlag):
                raise TypeError(f"not a BuilderFlag: {flag!r}")
            self.flags.add(flag)

        def set_memory_pool_limit(self, pool, size: int) -> None:
            if not isinstance(pool, MemoryPoolType) or int(size) <= 0:
                raise ValueError(f"bad memory pool limit {pool!r} {size!r}")
            self.pools[pool] = int(size)

    class Builder:
        def __init__(self, logger: Logger):
            self.logger = logger

        def create_network(self, flags: int = 0) -> _Network:
            return _Network(int(flags))

        def create_builder_config(self) -> _Config:
            return _Config()

        def build_serialized_network(self, network: _Network, config: _Config):
            if network.model is None:
                return None
            pinned = [ly.name for ly in network.layers if ly.precision_is_set
                      and ly.precision == _DataType.FLOAT
                      and all(t == _DataType.FLOAT for t in ly.output_types.values())]
            opset = max(o.version for o in network.model.opset_import
                        if o.domain in ("", "ai.onnx"))
            build = {"flags": sorted(f.value for f in config.flags), "fp32_layers": pinned,
                     "opset": opset, "layer_types": sorted({ly.type.value
                                                            for ly in network.layers})}
            trt.builds.append(build)
            head = json.dumps({k: build[k] for k in ("flags", "opset")}).encode()
            return memoryview(_MAGIC + head + b"\n" + network.model.SerializeToString())

    class _Context:
        def __init__(self, engine: _Engine):
            self.engine, self.addresses = engine, {}

        def set_tensor_address(self, name: str, address: int) -> bool:
            if name not in self.engine.specs:
                raise KeyError(f"no I/O tensor named {name!r}")
            if not isinstance(address, int) or address == 0:
                raise TypeError(f"tensor address of {name} must be a non-null int")
            self.addresses[name] = address
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            if not isinstance(stream_handle, int):
                raise TypeError("execute_async_v3 takes the CUDA stream handle as an int")
            if set(self.addresses) != set(self.engine.specs):
                return False  # TensorRT refuses to run with an unbound I/O tensor
            feeds = {n: _view(self.addresses[n], *self.engine.specs[n][1:]).copy()
                     for n in self.engine.inputs}
            outs = self.engine.session.run(self.engine.outputs, feeds)
            for n, v in zip(self.engine.outputs, outs):
                _, shape, dt = self.engine.specs[n]
                _view(self.addresses[n], shape, dt)[...] = v.astype(dt.value)
            return True

    class _Engine:
        def __init__(self, model_bytes: bytes):
            import onnx
            import onnxruntime as ort

            model = onnx.load_from_string(model_bytes)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            self.session = ort.InferenceSession(model_bytes, so,
                                                providers=["CPUExecutionProvider"])
            inits = {i.name for i in model.graph.initializer}
            self.inputs = [v.name for v in model.graph.input if v.name not in inits]
            self.outputs = [v.name for v in model.graph.output]
            self.specs = {}
            for v in list(model.graph.input) + list(model.graph.output):
                if v.name in inits:
                    continue
                tt = v.type.tensor_type
                shape = tuple(int(d.dim_value) for d in tt.shape.dim)
                mode = (TensorIOMode.INPUT if v.name in self.inputs else TensorIOMode.OUTPUT)
                self.specs[v.name] = (mode, shape, _ONNX_ELEM[tt.elem_type])
            self.names = self.inputs + self.outputs

        @property
        def num_io_tensors(self) -> int:
            return len(self.names)

        def get_tensor_name(self, i: int) -> str:
            return self.names[i]

        def get_tensor_mode(self, name: str):
            return self.specs[name][0]

        def get_tensor_shape(self, name: str):
            return self.specs[name][1]

        def get_tensor_dtype(self, name: str):
            return self.specs[name][2]

        def create_execution_context(self) -> _Context:
            return _Context(self)

    class Runtime:
        def __init__(self, logger: Logger):
            self.logger = logger

        def deserialize_cuda_engine(self, plan: bytes):
            plan = bytes(plan)
            if not plan.startswith(_MAGIC):
                return None  # TensorRT logs the error and returns None
            _, body = plan[len(_MAGIC):].split(b"\n", 1)
            try:
                return _Engine(body)
            except Exception:  # noqa: BLE001
                return None

    for obj in (Logger, NetworkDefinitionCreationFlag, BuilderFlag, MemoryPoolType, LayerType,
                TensorIOMode, OnnxParser, Builder, Runtime):
        setattr(trt, obj.__name__, obj)
    return trt


def _view(address: int, shape, dt: _DataType) -> np.ndarray:
    """The host array at ``address`` (a CPU tensor's ``data_ptr()``), no copy."""
    dtype = np.dtype(dt.value)
    n = int(np.prod(shape)) * dtype.itemsize
    buf = (ctypes.c_char * n).from_address(address)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)
