using ActionKit.Export.Graph;
using ActionKit.Export.Quantization;
using ActionKit.Export.Runtime;
using ActionKit.Kernels.Cpu;

namespace ActionKit.Export.Tests;

public class GraphExecutorTests
{
    static float[] Pixels(int batch, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, batch * 3 * 4 * 9 * 9).Select(_ => (float)random.Next(256))];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedStepsGiveWhatOneStepPerNodeGives(bool quantized)
    {
        var graph = SampleGraphs.TinyX3D(seed: 3, quantized: quantized);
        var pixels = Pixels(3, 1);
        var executor = new GraphExecutor(graph);
        var fused = executor.Run(pixels, batch: 3);
        var observed = new List<string>();
        var unfused = executor.Run(pixels, batch: 3, (name, _) => observed.Add(name));
        // Observing runs every node on its own; the fused kernels differ only in float rounding (one FMA for a scale and shift).
        Assert.Equal(graph.Nodes.Where(node => !node.Inputs.All(graph.IsConstant)).Select(node => node.Output).Prepend("data"), observed);
        for (int i = 0; i < fused.Length; i++)
            Assert.Equal(unfused[i], fused[i], quantized ? 0.05 : 1e-4);
    }

    [Fact]
    public void ChannelsLastClipsGiveWhatTheGraphLayoutGives()
    {
        var graph = SampleGraphs.TinyX3D(seed: 5);
        var pixels = Pixels(2, 2);
        var executor = new GraphExecutor(graph);
        var clips = GraphExecutor.ToChannelsLast(pixels, [2, 3, 4 * 9 * 9]);
        Assert.Equal(executor.Run(pixels, batch: 2), executor.RunChannelsLast(clips, batch: 2));
    }

    [Fact]
    public void EachBatchSizeGetsItsOwnPlanAndClipsStayIndependent()
    {
        var graph = SampleGraphs.TinyX3D(seed: 6);
        var pixels = Pixels(4, 3);
        var executor = new GraphExecutor(graph);
        var together = executor.Run(pixels, batch: 4);
        int perClip = pixels.Length / 4;
        for (int n = 0; n < 4; n++)
        {
            var alone = executor.Run(pixels.AsSpan(n * perClip, perClip), batch: 1);
            Assert.Equal(together.AsSpan(n * 5, 5).ToArray(), alone);
        }
        Assert.Equal(together, executor.Run(pixels, batch: 4));
    }

    [Fact]
    public void AGraphThatDoesNotStartWithTheClipsReshapeRefusesChannelsLastClips()
    {
        var input = new GraphInput("x", [-1, 2, 1, 1, 1]);
        var graph = new ModelGraph("g", input, "y", [new UnaryNode("relu", "y", UnaryOp.Relu, "x")], []);
        var error = Assert.Throws<NotSupportedException>(() => new GraphExecutor(graph).RunChannelsLast(new float[2], 1));
        Assert.Contains("clips axis", error.Message);
    }

    /// <summary>Every integer path this CPU has, with the tiny X3D's block 8 channels wide and 16 (the width from which a depthwise convolution takes the vpdpbusd form).</summary>
    public static TheoryData<Int8Path, int> Paths
    {
        get
        {
            var paths = new TheoryData<Int8Path, int>();
            foreach (var path in Enum.GetValues<Int8Path>().Where(Int8Gemm.IsSupported))
                foreach (int inner in new[] { 8, 16 })
                    paths.Add(path, inner);
            return paths;
        }
    }

    /// <summary>
    /// A quantized tiny X3D: its pointwise and depthwise convolutions run in integers on every path this CPU has, with
    /// activations between integer layers as codes, and each logit is within one quantization step (of the head's
    /// input) of the FakeQuantize executor's.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void TheIntegerPathGivesWhatTheFakeQuantizeExecutorGives(Int8Path path, int inner)
    {
        var graph = SampleGraphs.TinyX3D(seed: 7, inner: inner);
        var calibration = new List<CalibrationBatch> { new(Pixels(4, 8), 4) };
        var quantized = PostTrainingQuantizer.Quantize(graph, calibration).Graph;
        var integer = new GraphExecutor(quantized);
        var floats = new GraphExecutor(quantized, integer: false);
        Assert.Equal(8, integer.IntegerLayers);
        // As codes: the normalized clip to the stem, the stem's dense convolution's output to its depthwise one, the
        // stem's output to block.a and the shortcut, block.a's to block.b, block.b's to its gate (its pool takes row sums
        // of the floats), the SE's first FC's to its second, the gated, Swish-activated output of block.b to block.c,
        // and block.c's and the shortcut's to the join.
        Assert.Equal(9, integer.CodeValues);
        Assert.Null(integer.Notice);
        Assert.Equal(0, floats.IntegerLayers);
        var head = quantized.Nodes.OfType<FakeQuantizeNode>().Single(node => node.Input == "head.features");
        float step = quantized.Constant(head.High).Data[0] / 255;
        var pixels = Pixels(3, 9);
        var saved = Int8Gemm.Path;
        try
        {
            Int8Gemm.Path = path;
            var want = floats.Run(pixels, batch: 3);
            integer.Profiling = true;
            var got = integer.Run(pixels, batch: 3);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(want[i] - got[i]) <= step, $"logit {i}: {got[i]}, the FakeQuantize executor {want[i]}, step {step}");
            Assert.Contains("int8 depthwise conv", integer.StepSeconds.Keys);
            Assert.Contains("int8 pointwise conv", integer.StepSeconds.Keys);
            Assert.Contains("int8 dense conv", integer.StepSeconds.Keys);
            Assert.Contains("quantized gate", integer.StepSeconds.Keys);
            Assert.Contains("quantized add", integer.StepSeconds.Keys);
            Assert.Contains("affine into codes", integer.StepSeconds.Keys);
        }
        finally
        {
            Int8Gemm.Path = saved;
        }
    }

    [Fact]
    public void ALayerWhoseInputIsNotOnEightBitCodesRunsInFloatWithANotice()
    {
        var quantized = PostTrainingQuantizer.Quantize(SampleGraphs.TinyX3D(seed: 7), [new CalibrationBatch(Pixels(2, 8), 2)]).Graph;
        // The 16-level input of block.a: the integer path does not run it, the float path gives the FakeQuantize's answer.
        var nodes = quantized.Nodes.Select(node => node is FakeQuantizeNode { Input: "stem" } fq ? fq with { Levels = 16 } : node).ToList();
        var coarse = new ModelGraph(quantized.Name, quantized.Input, quantized.Output, nodes, quantized.Constants, quantized.Metadata);
        var executor = new GraphExecutor(coarse);
        Assert.Equal(6, executor.IntegerLayers);
        Assert.Contains("2 quantized layer(s) run in float", executor.Notice);
        Assert.Contains("layer 'block.a'", executor.Notice);
        var pixels = Pixels(2, 3);
        var want = new GraphExecutor(coarse, integer: false).Run(pixels, batch: 2);
        var got = executor.Run(pixels, batch: 2);
        for (int i = 0; i < want.Length; i++)
            Assert.Equal(want[i], got[i], 1e-3);
    }
}
