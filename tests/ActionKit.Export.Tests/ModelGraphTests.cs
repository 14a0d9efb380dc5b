using ActionKit.Export.Graph;

namespace ActionKit.Export.Tests;

public class ModelGraphTests
{
    [Fact]
    public void SampleGraphsAreWellFormed()
    {
        Assert.Equal("logits", SampleGraphs.TinyX3D().Output);
        Assert.Contains(SampleGraphs.TinyX3D(quantized: true).Nodes, node => node is FakeQuantizeNode);
    }

    [Fact]
    public void ANodeReadingAnUndefinedValueIsRejected()
    {
        var error = Assert.Throws<InvalidDataException>(() => new ModelGraph("g", new GraphInput("data", [1, 2]), "y",
            [new UnaryNode("relu", "y", UnaryOp.Relu, "missing")], []));
        Assert.Contains("'missing'", error.Message);
    }
}
