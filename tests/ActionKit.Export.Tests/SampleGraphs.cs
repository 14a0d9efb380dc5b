using ActionKit.Export.Graph;

namespace ActionKit.Export.Tests;

/// <summary>Small networks with random weights that use every node type the X3D export uses.</summary>
public static class SampleGraphs
{
    /// <summary>
    /// Input [N, 1, 3, 4, 9, 9] (N dynamic) to logits [N, 5], X3D-shaped: stem, one bottleneck with SE (<paramref name="inner"/>
    /// channels inside it), head.
    /// </summary>
    public static ModelGraph TinyX3D(int seed = 1, bool quantized = false, int inner = 8)
    {
        var random = new Random(seed);
        var constants = new List<GraphConstant>();
        var nodes = new List<GraphNode>();
        string Constant(string name, int[] shape, double scale = 0.3, double offset = 0)
        {
            long length = shape.Aggregate(1L, (a, b) => a * b);
            constants.Add(new GraphConstant(name, shape, [.. Enumerable.Range(0, (int)length).Select(_ => (float)(offset + scale * (2 * random.NextDouble() - 1)))]));
            return name;
        }
        string Quantized(string value, float low, float high, int levels)
        {
            if (!quantized || nodes.Any(node => node.Output == value + ".q"))
                return quantized ? value + ".q" : value;
            constants.Add(new GraphConstant(value + ".fq_low", [1], [low]));
            constants.Add(new GraphConstant(value + ".fq_high", [1], [high]));
            nodes.Add(new FakeQuantizeNode(value + ".fq", value + ".q", value, value + ".fq_low", value + ".fq_high", levels));
            return value + ".q";
        }
        string QuantizedWeight(string weight)
        {
            if (!quantized)
                return weight;
            var w = constants.Single(c => c.Name == weight);
            int outputs = w.Shape[0], per = (int)(w.Length / outputs);
            var high = Enumerable.Range(0, outputs).Select(o => w.Data.Skip(o * per).Take(per).Max(Math.Abs)).ToArray();
            var rangeShape = new int[w.Shape.Length];
            Array.Fill(rangeShape, 1);
            rangeShape[0] = outputs;
            constants.Add(new GraphConstant(weight + ".fq_low", rangeShape, [.. high.Select(h => -h)]));
            constants.Add(new GraphConstant(weight + ".fq_high", (int[])rangeShape.Clone(), high));
            nodes.Add(new FakeQuantizeNode(weight + ".fq", weight + ".q", weight, weight + ".fq_low", weight + ".fq_high", 255));
            return weight + ".q";
        }

        nodes.Add(new ReshapeNode("input_reshape", "clips", "data", [-1, 3, 4, 9, 9]));
        nodes.Add(new MulNode("input_scale", "scaled", "clips", Constant("input.scale", [1, 3, 1, 1, 1], 0.002, 0.004)));
        nodes.Add(new AddNode("input_shift", "normalized", "scaled", Constant("input.shift", [1, 3, 1, 1, 1], 0.1)));
        nodes.Add(new ConvNode("stem.conv_xy", "stem.xy", Quantized("normalized", -1.2f * 128 / 127, 1.2f, 256),
            QuantizedWeight(Constant("stem.0.weight", [6, 3, 1, 3, 3])), null, [1, 2, 2], [0, 1, 1], 1));
        nodes.Add(new ConvNode("stem.conv_t", "stem.t", Quantized("stem.xy", -2f * 128 / 127, 2f, 256),
            QuantizedWeight(Constant("stem.1.weight", [6, 1, 3, 1, 1])), Constant("stem.1.bias", [6]), [1, 1, 1], [1, 0, 0], 6));
        nodes.Add(new UnaryNode("stem.relu", "stem", UnaryOp.Relu, "stem.t"));
        nodes.Add(new ConvNode("block.a", "block.a.conv", Quantized("stem", 0, 3f, 256),
            QuantizedWeight(Constant("block.a.weight", [inner, 6, 1, 1, 1])), Constant("block.a.bias", [inner]), [1, 1, 1], [0, 0, 0], 1));
        nodes.Add(new UnaryNode("block.a.relu", "block.a.out", UnaryOp.Relu, "block.a.conv"));
        nodes.Add(new ConvNode("block.b", "block.b.conv", Quantized("block.a.out", 0, 3f, 256),
            QuantizedWeight(Constant("block.b.weight", [inner, 1, 3, 3, 3])), Constant("block.b.bias", [inner]), [1, 2, 2], [1, 1, 1], inner));
        nodes.Add(new GlobalAveragePoolNode("block.se.pool", "block.se.pooled", "block.b.conv"));
        nodes.Add(new ConvNode("block.se.fc1", "block.se.fc1.out", "block.se.pooled", Constant("block.se.fc1.weight", [inner / 2, inner, 1, 1, 1]),
            Constant("block.se.fc1.bias", [inner / 2]), [1, 1, 1], [0, 0, 0], 1));
        nodes.Add(new UnaryNode("block.se.relu", "block.se.relu.out", UnaryOp.Relu, "block.se.fc1.out"));
        nodes.Add(new ConvNode("block.se.fc2", "block.se.fc2.out", "block.se.relu.out", Constant("block.se.fc2.weight", [inner, inner / 2, 1, 1, 1]),
            Constant("block.se.fc2.bias", [inner]), [1, 1, 1], [0, 0, 0], 1));
        nodes.Add(new UnaryNode("block.se.gate", "block.se.scale", UnaryOp.Sigmoid, "block.se.fc2.out"));
        nodes.Add(new MulNode("block.se.mul", "block.se.out", "block.b.conv", "block.se.scale"));
        nodes.Add(new UnaryNode("block.swish", "block.swish.out", UnaryOp.Swish, "block.se.out"));
        nodes.Add(new ConvNode("block.c", "block.c.conv", Quantized("block.swish.out", -2f * 128 / 127, 2f, 256),
            QuantizedWeight(Constant("block.c.weight", [6, inner, 1, 1, 1])), Constant("block.c.bias", [6]), [1, 1, 1], [0, 0, 0], 1));
        nodes.Add(new ConvNode("block.short", "block.short.conv", Quantized("stem", 0, 3f, 256),
            QuantizedWeight(Constant("block.short.weight", [6, 6, 1, 1, 1])), Constant("block.short.bias", [6]), [1, 2, 2], [0, 0, 0], 1));
        nodes.Add(new AddNode("block.add", "block.sum", "block.c.conv", "block.short.conv"));
        nodes.Add(new UnaryNode("block.relu", "block.out", UnaryOp.Relu, "block.sum"));
        nodes.Add(new GlobalAveragePoolNode("head.pool", "head.pooled", "block.out"));
        nodes.Add(new ReshapeNode("head.flatten", "head.features", "head.pooled", [-1, 6]));
        nodes.Add(new LinearNode("head.fc1", "head.hidden", Quantized("head.features", 0, 2f, 256),
            QuantizedWeight(Constant("fc1.weight", [7, 6])), null));
        nodes.Add(new UnaryNode("head.relu", "head.hidden.relu", UnaryOp.Relu, "head.hidden"));
        nodes.Add(new LinearNode("head.fc2", "logits", "head.hidden.relu", Constant("fc2.weight", [5, 7]), Constant("fc2.bias", [5])));
        return new ModelGraph(quantized ? "tiny_x3d_int8" : "tiny_x3d", new GraphInput("data", [-1, 1, 3, 4, 9, 9]), "logits", nodes, constants,
            new Dictionary<string, string> { ["labels"] = "a b c d e" });
    }
}
