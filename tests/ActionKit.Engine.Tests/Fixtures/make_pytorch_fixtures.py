#!/usr/bin/python3
"""Writes the PyTorch checkpoint fixtures of tests/ActionKit.Engine.Tests (run by hand, not in CI).

Needs a real PyTorch (Debian: apt-get install python3-torch, 1.13). Builds small X3Ds with the module structure and
attribute names of the two upstream implementations (mmaction2's mmaction/models/backbones/x3d.py + heads/x3d_head.py,
PyTorchVideo's pytorchvideo/models/x3d.py + head.py + resnet.py + stem.py; written here from their structure, narrow
widths so the files stay small), gives them random weights and non-trivial BatchNorm statistics, saves them in the
zip format and the legacy format, and records two input clips (uint8 RGB pixels) with PyTorch's logits.

    /usr/bin/python3 make_pytorch_fixtures.py [OUT_DIR]                 # the committed fixtures (default: ./pytorch)
    /usr/bin/python3 make_pytorch_fixtures.py --full-size-mmaction2 CKPT # a full-size X3D-XS under mmaction2 names
    /usr/bin/python3 make_pytorch_fixtures.py --check-export FILE mmaction2|pytorchvideo
        # an `actionkit export-weights` file of an imported fixture: load_state_dict(strict=True), logits compared
"""
import json
import math
import os
import pickle
import sys

import torch
import torch.nn as nn

MEAN, STD = 114.75, 57.375  # the Kinetics normalization of both implementations (0.45 / 0.225 of 255)


def round_width(width, multiplier, min_width=8, divisor=8):
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    return int(out + divisor if out < 0.9 * width else out)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


# ---------------------------------------------------------------- mmaction2 (mmcv ConvModule: conv, bn, activate)
class ConvModule(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0, groups=1, norm=True, act=None):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=padding, groups=groups, bias=False)
        if norm:
            self.bn = nn.BatchNorm3d(cout)
        self.activate = act

    def forward(self, x):
        x = self.conv(x)
        if hasattr(self, "bn"):
            x = self.bn(x)
        return self.activate(x) if self.activate is not None else x


class SEModule(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool3d(1)
        self.bottleneck = round_width(channels, reduction)
        self.fc1 = nn.Conv3d(channels, self.bottleneck, kernel_size=1, padding=0)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv3d(self.bottleneck, channels, kernel_size=1, padding=0)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BlockX3D(nn.Module):
    def __init__(self, inplanes, planes, outplanes, spatial_stride=1, downsample=None, se_ratio=None):
        super().__init__()
        self.downsample = downsample
        self.se_ratio = se_ratio
        self.conv1 = ConvModule(inplanes, planes, 1, act=nn.ReLU())
        self.conv2 = ConvModule(planes, planes, 3, stride=(1, spatial_stride, spatial_stride), padding=1, groups=planes)
        self.swish = Swish()
        self.conv3 = ConvModule(planes, outplanes, 1)
        if se_ratio is not None:
            self.se_module = SEModule(planes, se_ratio)
        self.relu = nn.ReLU()

    def forward(self, x):
        identity = x
        out = self.conv2(self.conv1(x))
        if self.se_ratio is not None:
            out = self.se_module(out)
        out = self.conv3(self.swish(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class MMAction2X3D(nn.Module):
    def __init__(self, base_channels, stage_blocks, gamma_b=2.25, se_ratio=1 / 16):
        super().__init__()
        self.conv1_s = ConvModule(3, base_channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), norm=False)
        self.conv1_t = ConvModule(base_channels, base_channels, (5, 1, 1), padding=(2, 0, 0), groups=base_channels, act=nn.ReLU())
        self.res_layers = []
        layer_inplanes = base_channels
        for i, blocks in enumerate(stage_blocks):
            inplanes = base_channels * 2 ** i
            planes = int(inplanes * gamma_b)
            downsample = ConvModule(layer_inplanes, inplanes, 1, stride=(1, 2, 2))  # spatial stride 2 on every stage
            layers = [BlockX3D(layer_inplanes, planes, inplanes, 2, downsample, se_ratio)]
            layers += [BlockX3D(inplanes, planes, inplanes, 1, None, se_ratio if i % 2 == 0 else None) for i in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
            self.res_layers.append(f"layer{i + 1}")
            layer_inplanes = inplanes
        self.conv5 = ConvModule(layer_inplanes, int(layer_inplanes * gamma_b), 1, act=nn.ReLU())
        self.feat_dim = int(layer_inplanes * gamma_b)

    def forward(self, x):
        x = self.conv1_t(self.conv1_s(x))
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return self.conv5(x)


class X3DHead(nn.Module):
    def __init__(self, num_classes, in_channels, mid_channels):
        super().__init__()
        self.dropout = nn.Dropout(p=0.5)
        self.fc1 = nn.Linear(in_channels, mid_channels, bias=False)
        self.fc2 = nn.Linear(mid_channels, num_classes)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool3d((1, 1, 1))

    def forward(self, x):
        x = self.pool(x).view(x.shape[0], -1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class Recognizer3D(nn.Module):
    """mmaction2's recognizer: state_dict keys backbone.* and cls_head.*."""

    def __init__(self, base_channels, stage_blocks, num_classes, head_hidden):
        super().__init__()
        self.backbone = MMAction2X3D(base_channels, stage_blocks)
        self.cls_head = X3DHead(num_classes, self.backbone.feat_dim, head_hidden)

    def forward(self, x):
        return self.cls_head(self.backbone(x))


# ---------------------------------------------------------------- PyTorchVideo (Net of blocks)
class Conv2plus1d(nn.Module):
    def __init__(self, conv_t, conv_xy):
        super().__init__()
        self.conv_t, self.norm, self.activation, self.conv_xy = conv_t, None, None, conv_xy

    def forward(self, x):
        return self.conv_xy(self.conv_t(x))


class ResNetBasicStem(nn.Module):
    def __init__(self, conv, norm, activation):
        super().__init__()
        self.conv, self.norm, self.activation, self.pool = conv, norm, activation, None

    def forward(self, x):
        return self.activation(self.norm(self.conv(x)))


class SqueezeExcitation(nn.Module):  # fvcore.nn.squeeze_excitation
    def __init__(self, num_channels, num_channels_reduced):
        super().__init__()
        self.block = nn.Sequential(nn.Conv3d(num_channels, num_channels_reduced, 1, bias=True), nn.ReLU(inplace=True),
                                   nn.Conv3d(num_channels_reduced, num_channels, 1, bias=True), nn.Sigmoid())

    def forward(self, x):
        return x * self.block(x.mean(dim=(2, 3, 4), keepdim=True))


class BottleneckBlock(nn.Module):
    def __init__(self, dim_in, dim_inner, dim_out, stride, se_ratio):
        super().__init__()
        self.conv_a = nn.Conv3d(dim_in, dim_inner, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(dim_inner)
        self.act_a = nn.ReLU()
        self.conv_b = nn.Conv3d(dim_inner, dim_inner, 3, stride=stride, padding=1, bias=False, groups=dim_inner)
        se = SqueezeExcitation(dim_inner, round_width(dim_inner, se_ratio)) if se_ratio > 0 else nn.Identity()
        self.norm_b = nn.Sequential(nn.BatchNorm3d(dim_inner), se)
        self.act_b = Swish()
        self.conv_c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(dim_out)

    def forward(self, x):
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    def __init__(self, dim_in, dim_inner, dim_out, stride, se_ratio):
        super().__init__()
        strided = stride[1] * stride[2] > 1
        # create_x3d_res_block: a shortcut conv when the width or the stride changes, its BN only when the width does
        self.branch1_conv = nn.Conv3d(dim_in, dim_out, 1, stride=stride, bias=False) if dim_in != dim_out or strided else None
        self.branch1_norm = nn.BatchNorm3d(dim_out) if dim_in != dim_out else None
        self.branch2 = BottleneckBlock(dim_in, dim_inner, dim_out, stride, se_ratio)
        self.activation = nn.ReLU()

    def forward(self, x):
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(x)
            if self.branch1_norm is not None:
                shortcut = self.branch1_norm(shortcut)
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    def __init__(self, res_blocks):
        super().__init__()
        self.res_blocks = nn.ModuleList(res_blocks)

    def forward(self, x):
        for block in self.res_blocks:
            x = block(x)
        return x


class ProjectedPool(nn.Module):
    def __init__(self, dim_in, dim_inner, dim_out, pool_kernel):
        super().__init__()
        self.pre_conv = nn.Conv3d(dim_in, dim_inner, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(dim_inner)
        self.pre_act = nn.ReLU()
        self.pool = nn.AvgPool3d(pool_kernel, stride=1)
        self.post_conv = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.post_norm = None
        self.post_act = nn.ReLU()

    def forward(self, x):
        return self.post_act(self.post_conv(self.pool(self.pre_act(self.pre_norm(self.pre_conv(x))))))


class ResNetBasicHead(nn.Module):
    def __init__(self, pool, dim_out, num_classes):
        super().__init__()
        self.pool = pool
        self.dropout = nn.Dropout(0.5)
        self.proj = nn.Linear(dim_out, num_classes, bias=True)
        self.activation = None  # create_x3d's default is Softmax (no parameters); logits are compared here
        self.output_pool = nn.AdaptiveAvgPool3d(1)

    def forward(self, x):
        x = self.dropout(self.pool(x))
        x = self.proj(x.permute((0, 2, 3, 4, 1))).permute((0, 4, 1, 2, 3))
        return self.output_pool(x).view(x.shape[0], -1)


class Net(nn.Module):
    def __init__(self, stem_width, depths, num_classes, head_hidden, pool_kernel, bottleneck_factor=2.25, se_ratio=0.0625):
        super().__init__()
        conv_xy = nn.Conv3d(3, stem_width, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        conv_t = nn.Conv3d(stem_width, stem_width, (5, 1, 1), padding=(2, 0, 0), bias=False, groups=stem_width)
        # create_x3d_stem: the spatial conv goes into Conv2plus1d's conv_t slot, the temporal one into conv_xy
        blocks = [ResNetBasicStem(Conv2plus1d(conv_t=conv_xy, conv_xy=conv_t), nn.BatchNorm3d(stem_width), nn.ReLU())]
        dim_in = stem_width
        for idx, depth in enumerate(depths):
            dim_out = stem_width * 2 ** idx
            dim_inner = int(bottleneck_factor * dim_out)
            blocks.append(ResStage([ResBlock(dim_in if i == 0 else dim_out, dim_inner, dim_out, (1, 2, 2) if i == 0 else (1, 1, 1),
                                             se_ratio if (i + 1) % 2 else 0.0) for i in range(depth)]))
            dim_in = dim_out
        blocks.append(ResNetBasicHead(ProjectedPool(dim_in, dim_inner, head_hidden, pool_kernel), head_hidden, num_classes))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


# ---------------------------------------------------------------- weights, saving, recording
def randomize(model, generator):
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
            elif tensor.dim() == 1:  # BatchNorm scale
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * math.sqrt(2.0 / fan_in))


def save_both(obj, out, stem):
    torch.save(obj, os.path.join(out, f"{stem}.zip.pth"))
    torch.save(obj, os.path.join(out, f"{stem}.legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def fixture_models(frames=4, classes=5):
    # the stem stride 2 and four stage strides 2: 48 -> 24 -> 12 -> 6 -> 3 -> 2; PyTorchVideo pools (4, 2, 2) = global here
    return {"mmaction2": Recognizer3D(base_channels=4, stage_blocks=[1, 2, 3, 1], num_classes=classes, head_hidden=16).eval(),
            "pytorchvideo": Net(stem_width=4, depths=[2, 2, 2, 1], num_classes=classes, head_hidden=16, pool_kernel=(frames, 2, 2)).eval()}


def load_safetensors(path):
    """safetensors.torch.load_file, for the dtypes ActionKit writes (F32, I64)."""
    with open(path, "rb") as f:
        data = f.read()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        raw = bytearray(data[8 + length + start:8 + length + end])
        tensors[name] = torch.frombuffer(raw, dtype=dtypes[entry["dtype"]]).reshape(entry["shape"]) if raw else torch.zeros(entry["shape"], dtype=dtypes[entry["dtype"]])
    return tensors


def check_export(path, names, fixtures):
    """Loads an export-weights file into the fixture model of that implementation (strict) and compares its logits."""
    model = fixture_models()[names]
    model.load_state_dict(load_safetensors(path), strict=True)
    with open(os.path.join(fixtures, "expected.json")) as f:
        record = json.load(f)
    clips = record["clips"]
    pixels = torch.from_numpy(__import__("numpy").fromfile(os.path.join(fixtures, clips["file"]), dtype="uint8").reshape(clips["shape"]))
    with torch.no_grad():
        logits = model(((pixels.float() - MEAN) / STD).permute(0, 4, 1, 2, 3).contiguous())
    expected = torch.tensor(record["models"][names]["logits"])
    print(f"{path}: load_state_dict(strict=True) into the {names} fixture model; max |logit - recorded| = {(logits - expected).abs().max():.3g}")


def main(out):
    os.makedirs(out, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    frames, size, classes = 4, 48, 5
    pixels = torch.randint(0, 256, (2, frames, size, size, 3), generator=generator, dtype=torch.uint8)
    pixels.numpy().tofile(os.path.join(out, "clips.u8"))  # [2, T, H, W, 3] RGB, what a loader produces
    clips = ((pixels.float() - MEAN) / STD).permute(0, 4, 1, 2, 3).contiguous()  # [N, 3, T, H, W]
    record = {"clips": {"file": "clips.u8", "shape": list(pixels.shape), "mean": MEAN, "std": STD}, "torch": torch.__version__, "models": {}}

    models = fixture_models()
    for name, model, wrap in [("mmaction2", models["mmaction2"], lambda sd: {"meta": {"epoch": 3, "note": "fixture"}, "state_dict": sd}),
                              ("pytorchvideo", models["pytorchvideo"], lambda sd: {"model_state": sd, "epoch": 3})]:
        randomize(model, generator)
        with torch.no_grad():
            logits = model(clips)
        save_both(wrap(model.state_dict()), out, name)
        record["models"][name] = {"logits": logits.tolist(), "classes": classes}

    # Tensor layouts: every float dtype, a transposed view, a storage offset, two tensors sharing one storage.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    tensors = {"f32": base.clone(), "f16": base.half(), "bf16": base.bfloat16(), "f64": base.double(), "transposed": base.t(),
               "offset": base.view(-1)[5:17].view(3, 4), "shared_a": base[1:3], "shared_b": base[2:], "count": torch.tensor(42)}
    save_both(tensors, out, "layouts")
    record["layouts"] = {name: (t.float().tolist() if t.is_floating_point() else t.tolist()) for name, t in tensors.items()}

    # Refused: a pickle naming os.system (zip; a stand-in registered as os.system so that the pickle names "os system",
    # not "posix system") or builtins.eval (legacy, protocol 4: a STACK_GLOBAL of memoized strings); a ResNet-shaped
    # mmaction2 checkpoint.
    real_system = os.system

    def system(command):
        raise RuntimeError("never called")

    system.__module__, system.__qualname__, os.system = "os", "system", system
    try:
        torch.save({"state_dict": {"w": torch.zeros(2)}, "hook": Evil(os.system, "touch /tmp/actionkit-pwned")},
                   os.path.join(out, "evil_os_system.zip.pth"))
    finally:
        os.system = real_system
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hook": Evil(eval, "1+1")}, os.path.join(out, "evil_eval.legacy.pth"),
               _use_new_zipfile_serialization=False, pickle_protocol=4)
    resnet = {"backbone.conv1.conv.weight": torch.zeros(8, 3, 1, 7, 7), "backbone.conv1.bn.weight": torch.ones(8),
              "backbone.layer1.0.conv1.conv.weight": torch.zeros(8, 8, 1, 1, 1), "cls_head.fc_cls.weight": torch.zeros(classes, 8),
              "cls_head.fc_cls.bias": torch.zeros(classes)}
    torch.save({"state_dict": resnet}, os.path.join(out, "resnet.zip.pth"))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(record, f, indent=1)


def full_size_mmaction2(path):
    """X3D-XS as mmaction2 builds it for Kinetics-400 (gamma_w 1, gamma_b 2.25, gamma_d 2.2 -> [3, 5, 11, 7])."""
    model = Recognizer3D(base_channels=24, stage_blocks=[math.ceil(2.2 * d) for d in [1, 2, 5, 3]], num_classes=400, head_hidden=2048)
    randomize(model, torch.Generator().manual_seed(11))
    torch.save({"meta": {"note": "random weights, mmaction2 names"}, "state_dict": model.state_dict()}, path)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2], sys.argv[3], os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch"))
    elif len(sys.argv) == 3 and sys.argv[1] == "--full-size-mmaction2":
        full_size_mmaction2(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch"))
