using ActionKit.Export.Graph;
using ActionKit.Export.Runtime;

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
}
