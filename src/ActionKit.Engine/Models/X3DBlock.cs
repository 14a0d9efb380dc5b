using ActionKit.Engine.Layers;
using ActionKit.Kernels;

namespace ActionKit.Engine.Models;

/// <summary>
/// X3D bottleneck: 1x1x1 (BN, ReLU) → depthwise 3x3x3 with spatial stride (BN) → optional SE → Swish →
/// 1x1x1 (BN) → + shortcut (identity, or strided 1x1x1 + BN) → ReLU. PyTorch names a.0, a.1, b, b_bn, se, c.0, c.1,
/// short.0, short.1 (no short.1 on a stride-only shortcut where the config says so). The Swish is fused into the SE's channel scale, or into b_bn where there is no SE.
/// </summary>
public sealed class X3DBlock : Layer
{
    readonly PointwiseConv3d expand, project;
    readonly BatchNorm3d expandNorm, depthwiseNorm, projectNorm;
    readonly DepthwiseConv3d depthwise;
    readonly SqueezeExcitation? squeeze;
    readonly PointwiseConv3d? shortcut;
    readonly BatchNorm3d? shortcutNorm;
    Tensor? output, outputGradient;

    public X3DBlock(ParameterStore store, IBackend backend, string name, int inChannels, int innerChannels, int outChannels,
        int stride, int squeezeChannels, X3DConfig config, BatchStatisticsReducer? batchStatistics = null) : base(backend)
    {
        float eps = config.BatchNormEpsilon, momentum = config.BatchNormMomentum;
        expand = Child(new PointwiseConv3d(store, backend, $"{name}.a.0", inChannels, innerChannels));
        expandNorm = Child(new BatchNorm3d(store, backend, $"{name}.a.1", innerChannels, eps, momentum, Activation.Relu, statistics: batchStatistics));
        depthwise = Child(new DepthwiseConv3d(store, backend, $"{name}.b", innerChannels, (3, 3, 3), (1, stride, stride), (1, 1, 1)));
        depthwiseNorm = Child(new BatchNorm3d(store, backend, $"{name}.b_bn", innerChannels, eps, momentum,
            squeezeChannels > 0 ? Activation.None : Activation.Swish, statistics: batchStatistics));
        if (squeezeChannels > 0)
            squeeze = Child(new SqueezeExcitation(store, backend, $"{name}.se", innerChannels, squeezeChannels, Activation.Swish));
        project = Child(new PointwiseConv3d(store, backend, $"{name}.c.0", innerChannels, outChannels));
        // Zero-initialised last BN: each residual branch starts as the identity (Goyal et al.), which steadies training from scratch.
        projectNorm = Child(new BatchNorm3d(store, backend, $"{name}.c.1", outChannels, eps, momentum, Activation.None, initialScale: 0f, statistics: batchStatistics));
        if (inChannels != outChannels || stride > 1)
        {
            shortcut = Child(new PointwiseConv3d(store, backend, $"{name}.short.0", inChannels, outChannels, stride));
            if (inChannels != outChannels || !config.StrideOnlyShortcutWithoutNorm)
                shortcutNorm = Child(new BatchNorm3d(store, backend, $"{name}.short.1", outChannels, eps, momentum, Activation.None, statistics: batchStatistics));
        }
    }

    public Tensor Forward(Tensor x, bool training)
    {
        using var timing = Time("forward");
        var h = expandNorm.Forward(expand.Forward(x), training);
        h = depthwiseNorm.Forward(depthwise.Forward(h), training);
        if (squeeze is not null)
            h = squeeze.Forward(h);
        h = projectNorm.Forward(project.Forward(h), training);
        var skip = shortcut is null ? x : shortcutNorm is null ? shortcut.Forward(x) : shortcutNorm.Forward(shortcut.Forward(x), training);
        Ensure(ref output, h.Shape);
        Backend.Add(output!, h, skip, relu: true);
        return output!;
    }

    /// <summary>With <paramref name="overwriteGradient"/>, dy (no longer needed by the caller) holds the ReLU's gradient.</summary>
    public Tensor Backward(Tensor dy, bool overwriteGradient = false)
    {
        using var timing = Time("backward");
        var y = Saved(output, nameof(X3DBlock));
        var joined = overwriteGradient ? dy : Ensure(ref outputGradient, y.Shape);
        Backend.ReluBackward(joined, dy, y);
        var dh = project.Backward(projectNorm.Backward(joined));
        // Each gradient below is read only by the next layer down, which may overwrite it in place; so is the
        // joined gradient by the shortcut, its last reader.
        if (squeeze is not null)
            dh = squeeze.Backward(dh, overwriteGradient: true);
        dh = depthwise.Backward(depthwiseNorm.Backward(dh, overwriteGradient: true));
        var dx = expand.Backward(expandNorm.Backward(dh, overwriteGradient: true));
        var dSkip = shortcut is null ? joined
            : shortcut.Backward(shortcutNorm is null ? joined : shortcutNorm.Backward(joined, overwriteGradient: true));
        Backend.AddInPlace(dx, dSkip);
        return dx;
    }
}
