namespace ActionKit.Export.Graph;

/// <summary>
/// An inference network as a list of operations in topological order, in ONNX's and OpenVINO's N C D H W semantics:
/// the one model that the ONNX writer, the OpenVINO IR writer and reader, the quantizer and the executor share.
/// Every value is named; constants (weights, biases, quantization ranges) are <see cref="GraphConstant"/>s.
/// </summary>
public sealed class ModelGraph
{
    public ModelGraph(string name, GraphInput input, string output, IReadOnlyList<GraphNode> nodes,
        IReadOnlyList<GraphConstant> constants, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Name = name;
        Input = input;
        Output = output;
        Nodes = nodes;
        Constants = constants;
        Metadata = metadata ?? new Dictionary<string, string>();
        Validate();
    }

    public string Name { get; }
    public GraphInput Input { get; }

    /// <summary>The value the network returns (ActionKit's models: <c>logits</c> [N, classes]).</summary>
    public string Output { get; }

    public IReadOnlyList<GraphNode> Nodes { get; }
    public IReadOnlyList<GraphConstant> Constants { get; }

    /// <summary>Free-form key/value facts carried into the files (labels, preprocessing, template).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public GraphConstant Constant(string name) =>
        Constants.FirstOrDefault(constant => constant.Name == name)
        ?? throw new KeyNotFoundException($"Graph '{Name}' has no constant '{name}'.");

    public bool IsConstant(string name) => Constants.Any(constant => constant.Name == name);

    /// <summary>Throws when a node reads a value defined nowhere before it, or a name is defined twice.</summary>
    void Validate()
    {
        var defined = new HashSet<string> { Input.Name };
        foreach (var constant in Constants)
            if (!defined.Add(constant.Name))
                throw new InvalidDataException($"Graph '{Name}': the name '{constant.Name}' is defined twice.");
        foreach (var node in Nodes)
        {
            foreach (var input in node.Inputs)
                if (!defined.Contains(input))
                    throw new InvalidDataException($"Graph '{Name}': node '{node.Name}' ({node.Op}) reads '{input}', which is not defined before it.");
            if (!defined.Add(node.Output))
                throw new InvalidDataException($"Graph '{Name}': the name '{node.Output}' is defined twice.");
        }
        if (!defined.Contains(Output))
            throw new InvalidDataException($"Graph '{Name}': its output '{Output}' is not defined.");
    }
}

/// <summary>The network's input; a dimension of -1 is dynamic (the batch).</summary>
public sealed record GraphInput(string Name, int[] Shape);

/// <summary>A named float constant with an N C D H W-convention shape (Conv weights [Cout, Cin/groups, kD, kH, kW]).</summary>
public sealed record GraphConstant(string Name, int[] Shape, float[] Data)
{
    public long Length => Data.LongLength;
}
