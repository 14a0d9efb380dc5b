using ActionKit.Engine.Layers;
using ActionKit.Kernels;
using CounterRandom = ActionKit.Kernels.Cpu.CounterRandom;

namespace ActionKit.Engine.Models;

/// <summary>
/// The X3D network (Feichtenhofer, CVPR 2020; reference/x3d.md) with PyTorch state_dict names, built from an
/// <see cref="X3DConfig"/>. Input clips are channels-last [N, T, H, W, 3]; output logits [N, classes].
/// The model owns its parameters (one allocation) and every activation buffer; dispose it to free them.
/// </summary>
public sealed class X3D : Layer
{
    readonly Conv3d stemSpatial;
    readonly DepthwiseConv3d stemTemporal;
    readonly BatchNorm3d stemNorm;
    readonly X3DBlock[] blocks;
    readonly PointwiseConv3d headConv;
    readonly BatchNorm3d headNorm;
    readonly GlobalAveragePool pool;
    readonly Linear hidden, classifier;
    readonly Relu hiddenRelu;
    readonly Dropout dropout;
    // Index of each stage's last block: its output is the stage's (res2, res3, ...).
    readonly int[] stageEnds;
    // Each of LayerNames' outputs in the last Forward (views of the layers' own buffers).
    readonly Tensor?[] layerOutputs;

    /// <summary>Builds the network with its parameters drawn from <paramref name="seed"/>; with
    /// <paramref name="batchStatistics"/> every BatchNorm normalizes over all replicas' rows (sync_bn).</summary>
    public X3D(X3DConfig config, IBackend backend, ulong seed, BatchStatisticsReducer? batchStatistics = null) : base(backend)
    {
        config.Validate();
        Config = config;
        var store = Parameters = new ParameterStore();
        float eps = config.BatchNormEpsilon, momentum = config.BatchNormMomentum;
        stemSpatial = Child(new Conv3d(store, backend, "stem.0", 3, config.StemWidth, (1, 3, 3), (1, 2, 2), (0, 1, 1)));
        stemTemporal = Child(new DepthwiseConv3d(store, backend, "stem.1", config.StemWidth, (5, 1, 1), (1, 1, 1), (2, 0, 0)));
        stemNorm = Child(new BatchNorm3d(store, backend, "stem.2", config.StemWidth, eps, momentum, Activation.Relu, statistics: batchStatistics));

        var list = new List<X3DBlock>();
        int channels = config.StemWidth;
        for (int stage = 0; stage < config.Widths.Length; stage++)
        {
            int width = config.Widths[stage], inner = config.InnerWidth(width);
            for (int i = 0; i < config.Depths[stage]; i++)
            {
                bool squeeze = config.SeRatio > 0 && config.SeEvery > 0 && i % config.SeEvery == 0;
                list.Add(Child(new X3DBlock(store, backend, $"blocks.{list.Count}", channels, inner, width, i == 0 ? 2 : 1,
                    squeeze ? config.SqueezeWidth(inner) : 0, config, batchStatistics)));
                channels = width;
            }
        }
        blocks = [.. list];
        stageEnds = [.. config.Depths.Select((_, stage) => config.Depths.Take(stage + 1).Sum() - 1)];
        LayerNames = [InputName, "conv1", .. config.Depths.Select((_, stage) => $"res{stage + 2}"), "conv5"];
        layerOutputs = new Tensor?[LayerNames.Count];

        headConv = Child(new PointwiseConv3d(store, backend, "conv5.0", channels, config.HeadWidth));
        headNorm = Child(new BatchNorm3d(store, backend, "conv5.1", config.HeadWidth, eps, momentum, Activation.Relu, statistics: batchStatistics));
        pool = Child(new GlobalAveragePool(backend));
        hidden = Child(new Linear(store, backend, "fc1", config.HeadWidth, config.HeadHidden, bias: false, initializer: new Initializer.Normal(0.01)));
        hiddenRelu = Child(new Relu(backend));
        dropout = Child(new Dropout(backend, config.Dropout));
        classifier = Child(new Linear(store, backend, "fc2", config.HeadHidden, config.NumClasses, bias: true, initializer: new Initializer.Normal(0.01)));
        store.Allocate(backend, seed);
        DropoutRandom = new DeterministicRandom(seed ^ 0xD50F_0A7EUL);
    }

    public X3DConfig Config { get; }
    public ParameterStore Parameters { get; }

    /// <summary>The name of the clips themselves in <see cref="LayerNames"/>.</summary>
    public const string InputName = "input";

    /// <summary>
    /// The layers whose outputs <see cref="LayerOutput"/> and <see cref="BackwardTo"/> reach, in forward order, by the
    /// X3D paper's names (Table 1): input, conv1 (the stem), res2 ... res5 (each stage's last block), conv5 (before pooling).
    /// </summary>
    public IReadOnlyList<string> LayerNames { get; }

    /// <summary>The stream that seeds each training step's dropout mask (checkpointed for exact resumption).</summary>
    public DeterministicRandom DropoutRandom { get; }

    /// <summary>Where this replica's first clip sits in a data-parallel step's global batch: dropout draws the mask of
    /// global row <c>FirstBatchRow + r</c> for row r, so the replicas together drop what one process would.</summary>
    public long FirstBatchRow { get; set; }

    /// <summary>clips [N, T, H, W, 3] to logits [N, classes]. Training mode uses batch statistics and dropout.</summary>
    public Tensor Forward(Tensor clips, bool training)
    {
        if (clips.Rank != 5 || clips.Dim(-1) != 3)
            throw new ArgumentException($"X3D expects clips [N, T, H, W, 3], got {Tensor.Describe(clips.Shape)}.");
        var h = stemNorm.Forward(stemTemporal.Forward(stemSpatial.Forward(clips)), training);
        (layerOutputs[0], layerOutputs[1]) = (clips, h);
        for (int i = 0; i < blocks.Length; i++)
        {
            h = blocks[i].Forward(h, training);
            if (Array.IndexOf(stageEnds, i) is int stage and >= 0)
                layerOutputs[stage + 2] = h;
        }
        h = headNorm.Forward(headConv.Forward(h), training);
        layerOutputs[^1] = h;
        var features = pool.Forward(h);
        ulong dropoutSeed = training ? CounterRandom.Skip(DropoutRandom.NextUInt64(), (ulong)(FirstBatchRow * Config.HeadHidden)) : 0;
        var hiddenOut = dropout.Forward(hiddenRelu.Forward(hidden.Forward(features)), training, dropoutSeed);
        return classifier.Forward(hiddenOut);
    }

    /// <summary>Backpropagates dLogits through the last Forward (training's), accumulating every parameter gradient.</summary>
    public void Backward(Tensor dLogits) => Backpropagate(dLogits, layer: 0, needGradient: false);

    /// <summary>
    /// The output [N, T, H, W, C] of layer <paramref name="name"/> (one of <see cref="LayerNames"/>) in the last Forward;
    /// valid until the next Forward.
    /// </summary>
    public Tensor LayerOutput(string name) =>
        layerOutputs[LayerIndex(name)] ?? throw new InvalidOperationException("X3D: LayerOutput called before Forward.");

    /// <summary>
    /// Backpropagates dLogits through the last Forward down to layer <paramref name="name"/> and returns the gradient
    /// with respect to its output (valid until the next Backward). After an evaluation-mode Forward this is the
    /// frozen network's gradient (Grad-CAM's); the layers above accumulate their parameter gradients as in training.
    /// <paramref name="visit"/>, when given, sees the gradient at each layer the pass reaches on the way, deepest
    /// first, and must copy what it keeps: the pass overwrites it next.
    /// </summary>
    public Tensor BackwardTo(Tensor dLogits, string name, Action<string, Tensor>? visit = null) =>
        Backpropagate(dLogits, LayerIndex(name), needGradient: true, visit)!;

    // Backward down to the output of LayerNames[layer]; for the input, dx only when needGradient.
    Tensor? Backpropagate(Tensor dLogits, int layer, bool needGradient, Action<string, Tensor>? visit = null)
    {
        int conv5 = LayerNames.Count - 1;
        var dh = hidden.Backward(hiddenRelu.Backward(dropout.Backward(classifier.Backward(dLogits))));
        dh = pool.Backward(dh);
        visit?.Invoke(LayerNames[conv5], dh);
        if (layer == conv5)
            return dh;
        dh = headConv.Backward(headNorm.Backward(dh, overwriteGradient: true));
        for (int i = blocks.Length - 1; i >= 0; i--)
        {
            if (Array.IndexOf(stageEnds, i) is int stage and >= 0)
            {
                visit?.Invoke(LayerNames[stage + 2], dh);
                if (layer == stage + 2)
                    return dh;
            }
            dh = blocks[i].Backward(dh, overwriteGradient: true);
        }
        visit?.Invoke(LayerNames[1], dh);
        if (layer == 1)
            return dh;
        var dClips = stemSpatial.Backward(stemTemporal.Backward(stemNorm.Backward(dh, overwriteGradient: true)), needGradient);
        if (dClips is not null)
            visit?.Invoke(InputName, dClips);
        return dClips;
    }

    int LayerIndex(string name)
    {
        for (int i = 0; i < LayerNames.Count; i++)
            if (LayerNames[i] == name)
                return i;
        throw new ArgumentException($"X3D has no layer '{name}'; its layers are {string.Join(", ", LayerNames)}.", nameof(name));
    }

    /// <summary>Frees every activation buffer and the parameters.</summary>
    public override void Dispose()
    {
        base.Dispose();
        Parameters.Dispose();
    }
}
