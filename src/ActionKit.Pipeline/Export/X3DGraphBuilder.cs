using ActionKit.Data.Loading;
using ActionKit.Engine.Models;
using ActionKit.Export.Graph;

namespace ActionKit.Pipeline.Export;

/// <summary>
/// Turns a trained <see cref="X3D"/> into the inference <see cref="ModelGraph"/> that ActionKit exports: input
/// <c>data</c> [N, 1, 3, T, S, S] in pixels (0-255, RGB) as the test preprocessing crops them, the template's
/// normalization baked in as a per-channel scale and shift, every BatchNorm folded into the convolution before it,
/// dropout gone, and output <c>logits</c> [N, classes]. Value names follow the PyTorch state_dict.
/// </summary>
public sealed class X3DGraphBuilder
{
    readonly X3D network;
    readonly List<GraphNode> nodes = [];
    readonly List<GraphConstant> constants = [];

    X3DGraphBuilder(X3D network) => this.network = network;

    /// <summary>The network in evaluation mode, for clips that <paramref name="preprocessing"/> crops in test mode.</summary>
    public static ModelGraph Build(X3D network, ClipPreprocessing preprocessing, IReadOnlyList<string> labels,
        IReadOnlyDictionary<string, string> metadata)
    {
        var config = network.Config;
        if (labels.Count != config.NumClasses)
            throw new ArgumentException($"X3D has {config.NumClasses} classes but {labels.Count} labels were given.");
        int frames = preprocessing.ClipLength, size = preprocessing.TestCropSize;
        var builder = new X3DGraphBuilder(network);
        string h = builder.Input(frames, size, preprocessing);
        h = builder.Stem(h);
        int index = 0;
        for (int stage = 0; stage < config.Widths.Length; stage++)
            for (int i = 0; i < config.Depths[stage]; i++, index++)
                h = builder.Block($"blocks.{index}", h, i == 0 ? 2 : 1);
        h = builder.ConvBn("conv5.0", "conv5.1", h, [1, 1, 1], [0, 0, 0], 1, UnaryOp.Relu);
        builder.nodes.Add(new GlobalAveragePoolNode("pool", "pool", h));
        builder.nodes.Add(new ReshapeNode("flatten", "features", "pool", [-1, config.HeadWidth]));
        builder.nodes.Add(new LinearNode("fc1", "fc1", "features", builder.Weight("fc1.weight"), null));
        builder.nodes.Add(new UnaryNode("fc1.relu", "fc1.relu", UnaryOp.Relu, "fc1"));
        builder.nodes.Add(new LinearNode("fc2", "logits", "fc1.relu", builder.Weight("fc2.weight"), builder.Weight("fc2.bias")));

        var allMetadata = new Dictionary<string, string>(metadata)
        {
            ["labels"] = string.Join('\n', labels),
            ["input"] = $"data [N, 1, 3, {frames}, {size}, {size}]: RGB pixels 0-255 of {frames} frames every {preprocessing.FrameInterval}, short side resized to {preprocessing.ShortSide}, centre crop {size}",
        };
        return new ModelGraph("x3d", new GraphInput("data", [-1, 1, 3, frames, size, size]), "logits",
            builder.nodes, builder.constants, allMetadata);
    }

    /// <summary>data → [N, 3, T, S, S] → x · (1 / std) + (-mean / std), as the loader normalizes.</summary>
    string Input(int frames, int size, ClipPreprocessing preprocessing)
    {
        nodes.Add(new ReshapeNode("data.reshape", "clips", "data", [-1, 3, frames, size, size]));
        var scale = preprocessing.Std.Select(std => 1 / std).ToArray();
        var shift = preprocessing.Mean.Select((mean, c) => -mean * scale[c]).ToArray();
        nodes.Add(new MulNode("normalize.multiply", "clips.scaled", "clips", Add("normalize.scale", [1, 3, 1, 1, 1], scale)));
        if (shift.All(value => value == 0))
            return "clips.scaled";
        nodes.Add(new AddNode("normalize.add", "clips.normalized", "clips.scaled", Add("normalize.shift", [1, 3, 1, 1, 1], shift)));
        return "clips.normalized";
    }

    /// <summary>The bottleneck of <see cref="X3DBlock"/>: a (BN, ReLU) → b (BN) → SE → Swish → c (BN) → + shortcut → ReLU.</summary>
    /// <summary>The stem: a spatial 1x3x3 convolution (no BN of its own), then the temporal depthwise 5x1x1 with the stem's BN and ReLU.</summary>
    string Stem(string x)
    {
        nodes.Add(new ConvNode("stem.0", "stem.0", x, Weight("stem.0.weight"), null, [1, 2, 2], [0, 1, 1], 1));
        return ConvBn("stem.1", "stem.2", "stem.0", [1, 1, 1], [2, 0, 0], Shape("stem.1.weight")[0], UnaryOp.Relu);
    }

    string Block(string name, string x, int stride)
    {
        var h = ConvBn($"{name}.a.0", $"{name}.a.1", x, [1, 1, 1], [0, 0, 0], 1, UnaryOp.Relu);
        int inner = Shape($"{name}.b.weight")[0];
        bool squeeze = Has($"{name}.se.fc1.weight");
        h = ConvBn($"{name}.b", $"{name}.b_bn", h, [1, stride, stride], [1, 1, 1], inner, squeeze ? null : UnaryOp.Swish);
        if (squeeze)
        {
            nodes.Add(new GlobalAveragePoolNode($"{name}.se.pool", $"{name}.se.pool", h));
            nodes.Add(new ConvNode($"{name}.se.fc1", $"{name}.se.fc1", $"{name}.se.pool", Weight($"{name}.se.fc1.weight"),
                Weight($"{name}.se.fc1.bias"), [1, 1, 1], [0, 0, 0], 1));
            nodes.Add(new UnaryNode($"{name}.se.relu", $"{name}.se.relu", UnaryOp.Relu, $"{name}.se.fc1"));
            nodes.Add(new ConvNode($"{name}.se.fc2", $"{name}.se.fc2", $"{name}.se.relu", Weight($"{name}.se.fc2.weight"),
                Weight($"{name}.se.fc2.bias"), [1, 1, 1], [0, 0, 0], 1));
            nodes.Add(new UnaryNode($"{name}.se.gate", $"{name}.se.gate", UnaryOp.Sigmoid, $"{name}.se.fc2"));
            nodes.Add(new MulNode($"{name}.se.scale", $"{name}.se", h, $"{name}.se.gate"));
            nodes.Add(new UnaryNode($"{name}.swish", $"{name}.swish", UnaryOp.Swish, $"{name}.se"));
            h = $"{name}.swish";
        }
        h = ConvBn($"{name}.c.0", $"{name}.c.1", h, [1, 1, 1], [0, 0, 0], 1, null);
        // A strided or widening shortcut convolution, with its BN (PyTorchVideo's stride-only shortcut has none).
        string shortcut = x;
        if (Has($"{name}.short.1.weight"))
            shortcut = ConvBn($"{name}.short.0", $"{name}.short.1", x, [1, stride, stride], [0, 0, 0], 1, null);
        else if (Has($"{name}.short.0.weight"))
        {
            shortcut = $"{name}.short.0";
            nodes.Add(new ConvNode(shortcut, shortcut, x, Weight($"{name}.short.0.weight"), null, [1, stride, stride], [0, 0, 0], 1));
        }
        nodes.Add(new AddNode($"{name}.add", $"{name}.sum", h, shortcut));
        nodes.Add(new UnaryNode($"{name}.relu", name, UnaryOp.Relu, $"{name}.sum"));
        return name;
    }

    /// <summary>
    /// A convolution with the BatchNorm after it folded in: w' = w · γ / √(σ² + ε) per output channel and
    /// b' = β - μ · γ / √(σ² + ε), then the activation fused after that BN in the engine.
    /// </summary>
    string ConvBn(string conv, string norm, string x, int[] strides, int[] pads, int groups, UnaryOp? activation)
    {
        var weight = Values($"{conv}.weight");
        var shape = Shape($"{conv}.weight");
        int outputs = shape[0], perOutput = weight.Length / outputs;
        var gamma = Values($"{norm}.weight");
        var beta = Values($"{norm}.bias");
        var mean = Values($"{norm}.running_mean");
        var variance = Values($"{norm}.running_var");
        var folded = new float[weight.Length];
        var bias = new float[outputs];
        for (int o = 0; o < outputs; o++)
        {
            float scale = gamma[o] / MathF.Sqrt(variance[o] + network.Config.BatchNormEpsilon);
            for (int i = 0; i < perOutput; i++)
                folded[o * perOutput + i] = weight[o * perOutput + i] * scale;
            bias[o] = beta[o] - mean[o] * scale;
        }
        string output = activation is null ? conv : $"{conv}.conv";
        nodes.Add(new ConvNode(conv, output, x, Add($"{conv}.weight", shape, folded), Add($"{conv}.bias", [outputs], bias),
            strides, pads, groups));
        if (activation is not { } function)
            return output;
        nodes.Add(new UnaryNode($"{conv}.{function.ToString().ToLowerInvariant()}", conv, function, output));
        return conv;
    }

    string Weight(string name) => Add(name, Shape(name), Values(name));

    string Add(string name, int[] shape, float[] data)
    {
        constants.Add(new GraphConstant(name, shape, data));
        return name;
    }

    bool Has(string name) => network.Parameters.Parameters.Any(p => p.Name == name);

    int[] Shape(string name) => network.Parameters[name].Shape;

    float[] Values(string name) => network.Parameters[name].Value.ToArray();
}
