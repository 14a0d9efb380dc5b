using ActionKit.Engine.Layers;
using ActionKit.Kernels;
using static ActionKit.Engine.Tests.GradientCheck;

namespace ActionKit.Engine.Tests;

public sealed class LayerGradientTests : IDisposable
{
    readonly CpuBackend backend = new();
    readonly ParameterStore store = new();

    public void Dispose()
    {
        store.Dispose();
        backend.Dispose();
    }

    Tensor Input(params int[] shape) => RandomTensor(backend, 7, shape);

    [Theory]
    [InlineData(1, 3, 4, 3, 7, 5, 1, 3, 3, 1, 2, 2, 0, 1, 1)] // the X3D stem
    [InlineData(2, 3, 5, 4, 2, 3, 3, 2, 3, 2, 1, 2, 1, 0, 1)] // odd sizes, every stride and pad
    public void Conv3dGradients(int n, int d, int h, int w, int cin, int cout, int kd, int kh, int kw,
        int sd, int sh, int sw, int pd, int ph, int pw)
    {
        var layer = new Conv3d(store, backend, "conv", cin, cout, (kd, kh, kw), (sd, sh, sw), (pd, ph, pw));
        store.Allocate(backend, 1);
        using var x = Input(n, d, h, w, cin);
        CheckLayer("conv3d", store, x, layer.Forward, dy => layer.Backward(dy, needInputGradient: true));
    }

    [Theory]
    [InlineData(1, 4, 7, 5, 5, 3, 3, 3, 1, 1, 1, 1)]   // 3x3x3, stride 1, batch 1
    [InlineData(2, 3, 7, 6, 11, 3, 3, 3, 2, 1, 1, 1)]  // stride 2, odd sizes, 11 channels
    [InlineData(2, 6, 3, 3, 9, 5, 1, 1, 1, 2, 0, 0)]   // the stem's temporal 5x1x1
    public void DepthwiseConv3dGradients(int n, int d, int h, int w, int c, int kd, int kh, int kw, int stride,
        int pd, int ph, int pw)
    {
        var layer = new DepthwiseConv3d(store, backend, "dw", c, (kd, kh, kw), (1, stride, stride), (pd, ph, pw));
        store.Allocate(backend, 2);
        using var x = Input(n, d, h, w, c);
        CheckLayer("depthwise", store, x, layer.Forward, layer.Backward);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void PointwiseConv3dGradients(int stride, bool bias)
    {
        var layer = new PointwiseConv3d(store, backend, "pw", 5, 7, stride, bias);
        store.Allocate(backend, 3);
        using var x = Input(2, 2, 5, 3, 5);
        CheckLayer("pointwise", store, x, layer.Forward, layer.Backward);
    }

    [Fact]
    public void LinearGradients()
    {
        var layer = new Linear(store, backend, "fc", 13, 6, bias: true);
        store.Allocate(backend, 4);
        using var x = Input(3, 13);
        CheckLayer("linear", store, x, layer.Forward, layer.Backward);
    }

    [Theory]
    [InlineData(Activation.None, false)]
    [InlineData(Activation.Relu, true)]
    [InlineData(Activation.Swish, false)]
    public void BatchNormTrainingGradients(Activation activation, bool overwriteGradient)
    {
        var layer = new BatchNorm3d(store, backend, "bn", 11, 1e-5f, 0.1f, activation);
        store.Allocate(backend, 5);
        layer.Weight.Value.CopyFrom(RandomValues(11, 6));
        layer.Bias.Value.CopyFrom(RandomValues(11, 8));
        using var x = Input(2, 3, 2, 3, 11);
        CheckLayer("batchnorm", store, x, v => layer.Forward(v, training: true), dy => layer.Backward(dy, overwriteGradient),
            step: 1e-2, tolerance: 2e-3);
    }

    [Theory]
    [InlineData(Activation.None, false)]
    [InlineData(Activation.Relu, true)]
    [InlineData(Activation.Swish, false)]
    public void BatchNormEvaluationInputGradients(Activation activation, bool overwriteGradient)
    {
        var layer = new BatchNorm3d(store, backend, "bn", 11, 1e-5f, 0.1f, activation);
        store.Allocate(backend, 5);
        layer.Weight.Value.CopyFrom(RandomValues(11, 6));
        layer.Bias.Value.CopyFrom(RandomValues(11, 8));
        layer.RunningMean.Value.CopyFrom(RandomValues(11, 10, scale: 0.5));
        layer.RunningVar.Value.CopyFrom([.. RandomValues(11, 12).Select(v => 0.5f + v * v)]);
        using var x = Input(2, 3, 2, 3, 11);
        var y = layer.Forward(x, training: false);
        var weights = RandomValues(y.Length, 99);
        using var dy = backend.Allocate(y.Shape);
        dy.CopyFrom(weights);
        var dx = layer.Backward(dy, overwriteGradient).ToArray();
        Check("batchnorm (evaluation) dx", x, dx, () => WeightedSum(layer.Forward(x, training: false), weights), step: 1e-3);
    }

    [Fact]
    public void ActivationGradients()
    {
        using var x = Input(2, 3, 4, 5, 6);
        var relu = new Relu(backend);
        var sigmoid = new Sigmoid(backend);
        store.Allocate(backend, 0);
        CheckLayer("relu", store, x, relu.Forward, relu.Backward, step: 1e-3);
        CheckLayer("sigmoid", store, x, sigmoid.Forward, sigmoid.Backward);
    }

    [Theory]
    [InlineData(Activation.None, false)]
    [InlineData(Activation.Swish, true)]
    public void SqueezeExcitationGradients(Activation activation, bool overwriteGradient)
    {
        var layer = new SqueezeExcitation(store, backend, "se", 10, 8, activation);
        store.Allocate(backend, 9);
        using var x = Input(2, 2, 3, 3, 10);
        CheckLayer("squeeze-excitation", store, x, layer.Forward, dy => layer.Backward(dy, overwriteGradient), step: 1e-3);
    }

    [Fact]
    public void GlobalAveragePoolGradients()
    {
        var layer = new GlobalAveragePool(backend);
        store.Allocate(backend, 0);
        using var x = Input(3, 2, 3, 5, 7);
        CheckLayer("pool", store, x, layer.Forward, layer.Backward);
    }

    [Fact]
    public void DropoutGradientsWithAFixedSeed()
    {
        var layer = new Dropout(backend, 0.5f);
        store.Allocate(backend, 0);
        using var x = Input(4, 33);
        CheckLayer("dropout", store, x, v => layer.Forward(v, training: true, seed: 42), layer.Backward);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void CrossEntropyGradients(float smoothing)
    {
        using var loss = new SoftmaxCrossEntropy(backend, smoothing);
        using var logits = Input(4, 5);
        using var labels = Labels(backend, 0, 3, 4, 3);
        loss.Forward(logits, labels);
        var analytic = loss.Backward().ToArray();
        Check("cross-entropy", logits, analytic, () => Scalar(loss.Forward(logits, labels)), step: 1e-2);
    }
}
