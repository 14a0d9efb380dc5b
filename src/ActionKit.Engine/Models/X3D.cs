using ActionKit.Engine.Layers;
using ActionKit.Kernels;
using CounterRandom = ActionKit.Kernels.Cpu.CounterRandom;

namespace ActionKit.Engine.Models;

/// <summary>
/// The X3D network (Feichtenhofer, CVPR 2020; reference/x3d.md) with PyTorch state_dict names, built from an
/// <see cref="X3DConfig"/>. Input clips are channels-last [N, T, H, W, 3]; output logits [N, classes].
/// The model owns its parameters (one allocation) and every activation buffer; dispose it when done.
/// </summary>
public sealed class X3D : IDisposable
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

    /// <summary>Builds the network with its parameters drawn from <paramref name="seed"/>; with
    /// <paramref name="batchStatistics"/> every BatchNorm normalizes over all replicas' rows (sync_bn).</summary>
    public X3D(X3DConfig config, IBackend backend, ulong seed, BatchStatisticsReducer? batchStatistics = null)
    {
        config.Validate();
        Config = config;
        Backend = backend;
        var store = Parameters = new ParameterStore();
        float eps = config.BatchNormEpsilon, momentum = config.BatchNormMomentum;
        stemSpatial = new Conv3d(store, backend, "stem.0", 3, config.StemWidth, (1, 3, 3), (1, 2, 2), (0, 1, 1));
        stemTemporal = new DepthwiseConv3d(store, backend, "stem.1", config.StemWidth, (5, 1, 1), (1, 1, 1), (2, 0, 0));
        stemNorm = new BatchNorm3d(store, backend, "stem.2", config.StemWidth, eps, momentum, Activation.Relu, statistics: batchStatistics);

        var list = new List<X3DBlock>();
        int channels = config.StemWidth;
        for (int stage = 0; stage < config.Widths.Length; stage++)
        {
            int width = config.Widths[stage], inner = config.InnerWidth(width);
            for (int i = 0; i < config.Depths[stage]; i++)
            {
                bool squeeze = config.SeRatio > 0 && config.SeEvery > 0 && i % config.SeEvery == 0;
                list.Add(new X3DBlock(store, backend, $"blocks.{list.Count}", channels, inner, width, i == 0 ? 2 : 1,
                    squeeze ? config.SqueezeWidth(inner) : 0, config, batchStatistics));
                channels = width;
            }
        }
        blocks = [.. list];

        headConv = new PointwiseConv3d(store, backend, "conv5.0", channels, config.HeadWidth);
        headNorm = new BatchNorm3d(store, backend, "conv5.1", config.HeadWidth, eps, momentum, Activation.Relu, statistics: batchStatistics);
        pool = new GlobalAveragePool(backend);
        hidden = new Linear(store, backend, "fc1", config.HeadWidth, config.HeadHidden, bias: false, initializer: new Initializer.Normal(0.01));
        hiddenRelu = new Relu(backend);
        dropout = new Dropout(backend, config.Dropout);
        classifier = new Linear(store, backend, "fc2", config.HeadHidden, config.NumClasses, bias: true, initializer: new Initializer.Normal(0.01));
        store.Allocate(backend, seed);
        DropoutRandom = new DeterministicRandom(seed ^ 0xD50F_0A7EUL);
    }

    public X3DConfig Config { get; }
    public IBackend Backend { get; }
    public ParameterStore Parameters { get; }

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
        foreach (var block in blocks)
            h = block.Forward(h, training);
        var features = pool.Forward(headNorm.Forward(headConv.Forward(h), training));
        ulong dropoutSeed = training ? CounterRandom.Skip(DropoutRandom.NextUInt64(), (ulong)(FirstBatchRow * Config.HeadHidden)) : 0;
        var hiddenOut = dropout.Forward(hiddenRelu.Forward(hidden.Forward(features)), training, dropoutSeed);
        return classifier.Forward(hiddenOut);
    }

    /// <summary>Backpropagates dLogits through the last training-mode Forward, accumulating every parameter gradient.</summary>
    public void Backward(Tensor dLogits)
    {
        var dh = hidden.Backward(hiddenRelu.Backward(dropout.Backward(classifier.Backward(dLogits))));
        dh = headConv.Backward(headNorm.Backward(pool.Backward(dh), overwriteGradient: true));
        for (int i = blocks.Length - 1; i >= 0; i--)
            dh = blocks[i].Backward(dh, overwriteGradient: true);
        stemSpatial.Backward(stemTemporal.Backward(stemNorm.Backward(dh, overwriteGradient: true)), needInputGradient: false);
    }

    public void Dispose() => Parameters.Dispose();
}
