using System.Text.RegularExpressions;
using ActionKit.Engine.Models;

namespace ActionKit.Engine.Checkpoints;

/// <summary>The X3D implementations whose state dicts ActionKit reads and writes.</summary>
public enum UpstreamNames
{
    /// <summary>open-mmlab mmaction2 (and OTX): Recognizer3D with backbone X3D and cls_head X3DHead.</summary>
    MMAction2,

    /// <summary>facebookresearch PyTorchVideo: create_x3d's Net of blocks (stem, four ResStages, head).</summary>
    PyTorchVideo,
}

/// <summary>
/// The name maps between ActionKit's X3D parameters and the two upstream implementations' state dicts, derived from
/// their sources (mmaction2 mmaction/models/backbones/x3d.py and heads/x3d_head.py; PyTorchVideo
/// pytorchvideo/models/x3d.py, resnet.py, stem.py, head.py and fvcore's SqueezeExcitation), and the architecture read
/// back from a state dict's shapes. The differences that matter:
/// - PyTorchVideo's stem is a Conv2plus1d whose <c>conv_t</c> slot holds the spatial 1x3x3 convolution and whose
///   <c>conv_xy</c> slot the temporal 5x1x1 one (create_x3d_stem); mmaction2 names them conv1_s and conv1_t.
/// - PyTorchVideo normalizes a shortcut only where the width changes (no branch1_norm on the first block of the first
///   stage); mmaction2's downsample always has its BN (<see cref="X3DConfig.StrideOnlyShortcutWithoutNorm"/>).
/// - PyTorchVideo's head is ProjectedPool (pre_conv, pre_norm, ReLU, AvgPool3d of a fixed kernel, 1x1x1 post_conv,
///   ReLU) then proj; the fixed pool equals ActionKit's global pooling at the input size it was built for.
///   mmaction2's conv5 is the backbone's last ConvModule and its head pools globally before fc1 (Linear, no bias).
/// - Depths: PyTorchVideo and today's mmaction2 round 2.2 x [1, 2, 5, 3] up to [3, 5, 11, 7]; mmaction2 before its
///   _round_repeats truncated to [2, 4, 11, 6]. The depths are read from the checkpoint, not assumed.
/// </summary>
public static partial class UpstreamX3D
{
    /// <summary>The pixel normalization both implementations' Kinetics-400 checkpoints were trained with: 0.45 and 0.225 of 255.</summary>
    public const double KineticsMean = 114.75, KineticsStd = 57.375;

    /// <summary>Which implementation a state dict comes from, or an error naming the keys that were looked for.</summary>
    public static UpstreamNames Detect(PyTorchStateDict state)
    {
        if (state.Tensors.ContainsKey("backbone.conv1_s.conv.weight"))
            return UpstreamNames.MMAction2;
        if (state.Tensors.ContainsKey("blocks.0.conv.conv_t.weight"))
            return UpstreamNames.PyTorchVideo;
        throw new CheckpointFormatException(state.Path, "not an X3D state dict: neither mmaction2's backbone.conv1_s.conv.weight nor PyTorchVideo's "
            + $"blocks.0.conv.conv_t.weight is there (its first keys: {string.Join(", ", state.Tensors.Keys.Order(StringComparer.Ordinal).Take(4))}).");
    }

    /// <summary>
    /// The architecture a state dict holds: stem, stage widths and depths, bottleneck, squeeze-excitation placement,
    /// shortcut norms and head, from its tensors' shapes. <paramref name="numClasses"/> is the class count of the
    /// model to build (the checkpoint's own when null); other settings come from <paramref name="defaults"/>.
    /// </summary>
    public static X3DConfig InferConfig(PyTorchStateDict state, UpstreamNames names, X3DConfig defaults, int? numClasses = null)
    {
        var n = Names(names);
        int[] Shape(string key) => state.Tensors.TryGetValue(key, out var t) ? t.Shape
            : throw new CheckpointFormatException(state.Path, $"{key} is missing: not a complete {names} X3D state dict.");
        int stem = Shape(n.Stem("stem.0.weight"))[0];
        var widths = new List<int>();
        var depths = new List<int>();
        var inner = new List<int>();
        var squeezed = new List<bool>();
        for (int stage = 0; state.Tensors.ContainsKey(n.Block(stage, 0, "a.0.weight")); stage++)
        {
            int depth = 0;
            while (state.Tensors.ContainsKey(n.Block(stage, depth, "a.0.weight")))
            {
                squeezed.Add(state.Tensors.ContainsKey(n.Block(stage, depth, "se.fc1.weight")));
                depth++;
            }
            depths.Add(depth);
            widths.Add(Shape(n.Block(stage, 0, "c.0.weight"))[0]);
            inner.Add(Shape(n.Block(stage, 0, "a.0.weight"))[0]);
        }
        if (widths.Count == 0)
            throw new CheckpointFormatException(state.Path, $"{n.Block(0, 0, "a.0.weight")} is missing: no residual stages.");
        int seEvery = SePeriod(state.Path, depths, squeezed);
        string head = n.Head(widths.Count, "conv5.0.weight");
        string hidden = n.Head(widths.Count, "fc1.weight");
        string classifier = n.Head(widths.Count, "fc2.weight");
        bool strideOnlyWithoutNorm = stem == widths[0]
            ? !state.Tensors.ContainsKey(n.Block(0, 0, "short.1.weight"))
            : defaults.StrideOnlyShortcutWithoutNorm;
        return defaults with
        {
            NumClasses = numClasses ?? (state.Tensors.TryGetValue(classifier, out var fc2) ? fc2.Shape[0] : defaults.NumClasses),
            StemWidth = stem,
            Widths = [.. widths],
            Depths = [.. depths],
            BottleneckFactor = (double)inner[0] / widths[0],
            SeEvery = seEvery,
            SeRatio = seEvery == 0 ? 0 : defaults.SeRatio > 0 ? defaults.SeRatio : 0.0625,
            StrideOnlyShortcutWithoutNorm = strideOnlyWithoutNorm,
            HeadWidth = Shape(head)[0],
            HeadHidden = state.Tensors.TryGetValue(hidden, out var fc1) ? fc1.Shape[0] : defaults.HeadHidden,
        };
    }

    static int SePeriod(string path, List<int> depths, List<bool> squeezed)
    {
        foreach (int period in new[] { 2, 1, 0 })
        {
            int block = 0;
            bool fits = true;
            foreach (int depth in depths)
                for (int i = 0; i < depth; i++, block++)
                    fits &= squeezed[block] == (period > 0 && i % period == 0);
            if (fits)
                return period;
        }
        throw new CheckpointFormatException(path, "squeeze-excitation sits on neither every block, every other block (0, 2, 4, ...) nor none.");
    }

    /// <summary>The upstream name of each of <paramref name="config"/>'s ActionKit parameter names (PyTorch's own for the rest).</summary>
    public static string UpstreamName(UpstreamNames names, X3DConfig config, string ours)
    {
        var n = Names(names);
        var match = BlockName().Match(ours);
        if (!match.Success)
            return ours.StartsWith("stem.", StringComparison.Ordinal) ? n.Stem(ours) : n.Head(config.Depths.Length, ours);
        int block = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), stage = 0;
        while (block >= config.Depths[stage])
            block -= config.Depths[stage++];
        return n.Block(stage, block, match.Groups[2].Value);
    }

    /// <summary>Whether ActionKit's tensor <paramref name="ours"/> is the classifier, which depends on the class count.</summary>
    public static bool IsClassifier(string ours) => ours.StartsWith("fc2.", StringComparison.Ordinal);

    /// <summary>Whether ActionKit's tensor <paramref name="ours"/> belongs to the head after the pooling (fc1, fc2).</summary>
    public static bool IsHead(string ours) => ours.StartsWith("fc1.", StringComparison.Ordinal) || IsClassifier(ours);

    [GeneratedRegex(@"^blocks\.(\d+)\.(.+)$")]
    private static partial Regex BlockName();

    static NameMap Names(UpstreamNames names) => names == UpstreamNames.MMAction2 ? MMAction2 : PyTorchVideo;

    /// <summary>The stem, block and head parts of one name map, each from an ActionKit name's tail.</summary>
    sealed record NameMap(Func<string, string> Stem, Func<int, int, string, string> Block, Func<int, string, string> Head);

    static readonly NameMap MMAction2 = new(
        ours => Replace(ours, ("stem.0.", "backbone.conv1_s.conv."), ("stem.1.", "backbone.conv1_t.conv."), ("stem.2.", "backbone.conv1_t.bn.")),
        (stage, i, tail) => $"backbone.layer{stage + 1}.{i}." + Replace(tail, ("a.0.", "conv1.conv."), ("a.1.", "conv1.bn."), ("b.", "conv2.conv."),
            ("b_bn.", "conv2.bn."), ("se.", "se_module."), ("c.0.", "conv3.conv."), ("c.1.", "conv3.bn."), ("short.0.", "downsample.conv."),
            ("short.1.", "downsample.bn.")),
        (stages, ours) => Replace(ours, ("conv5.0.", "backbone.conv5.conv."), ("conv5.1.", "backbone.conv5.bn."), ("fc1.", "cls_head.fc1."),
            ("fc2.", "cls_head.fc2.")));

    static readonly NameMap PyTorchVideo = new(
        ours => Replace(ours, ("stem.0.", "blocks.0.conv.conv_t."), ("stem.1.", "blocks.0.conv.conv_xy."), ("stem.2.", "blocks.0.norm.")),
        (stage, i, tail) => $"blocks.{stage + 1}.res_blocks.{i}." + Replace(tail, ("a.0.", "branch2.conv_a."), ("a.1.", "branch2.norm_a."),
            ("b.", "branch2.conv_b."), ("b_bn.", "branch2.norm_b.0."), ("se.fc1.", "branch2.norm_b.1.block.0."), ("se.fc2.", "branch2.norm_b.1.block.2."),
            ("c.0.", "branch2.conv_c."), ("c.1.", "branch2.norm_c."), ("short.0.", "branch1_conv."), ("short.1.", "branch1_norm.")),
        (stages, ours) => Replace(ours, ("conv5.0.", $"blocks.{stages + 1}.pool.pre_conv."), ("conv5.1.", $"blocks.{stages + 1}.pool.pre_norm."),
            ("fc1.", $"blocks.{stages + 1}.pool.post_conv."), ("fc2.", $"blocks.{stages + 1}.proj.")));

    static string Replace(string name, params (string Ours, string Theirs)[] prefixes)
    {
        foreach (var (ours, theirs) in prefixes)
            if (name.StartsWith(ours, StringComparison.Ordinal))
                return theirs + name[ours.Length..];
        throw new ArgumentException($"{name} has no upstream counterpart.", nameof(name));
    }
}
