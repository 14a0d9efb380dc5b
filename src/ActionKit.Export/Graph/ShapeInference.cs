namespace ActionKit.Export.Graph;

/// <summary>
/// The shape of every value and constant of a <see cref="ModelGraph"/>; a dynamic dimension (the batch) stays -1.
/// Throws <see cref="InvalidDataException"/> naming the node when its inputs do not fit together.
/// </summary>
public static class ShapeInference
{
    public static IReadOnlyDictionary<string, int[]> Infer(ModelGraph graph)
    {
        var shapes = new Dictionary<string, int[]> { [graph.Input.Name] = graph.Input.Shape };
        foreach (var constant in graph.Constants)
        {
            if (constant.Shape.Aggregate(1L, (a, b) => a * b) != constant.Length)
                throw new InvalidDataException($"Graph '{graph.Name}': constant '{constant.Name}' has {constant.Length} values, not the {Format(constant.Shape)} its shape needs.");
            shapes[constant.Name] = constant.Shape;
        }
        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(input => shapes[input]).ToArray();
            try
            {
                shapes[node.Output] = node switch
                {
                    ReshapeNode reshape => Reshape(inputs[0], reshape.Shape),
                    ConvNode conv => Conv(conv, inputs),
                    AddNode or MulNode => Broadcast(inputs[0], inputs[1]),
                    UnaryNode => inputs[0],
                    GlobalAveragePoolNode => Pool(inputs[0]),
                    LinearNode => Linear(inputs),
                    FakeQuantizeNode => Quantize(inputs),
                    _ => throw new NotSupportedException($"no shape rule for {node.Op}"),
                };
            }
            catch (ShapeMismatch mismatch)
            {
                throw new InvalidDataException($"Graph '{graph.Name}': node '{node.Name}' ({node.Op}): {mismatch.Message}.");
            }
        }
        return shapes;
    }

    /// <summary>[a, b, c] as written in messages; -1 shows as ?.</summary>
    public static string Format(IEnumerable<int> shape) =>
        "[" + string.Join(", ", shape.Select(dim => dim < 0 ? "?" : dim.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    static int[] Reshape(int[] input, int[] target)
    {
        if (target.Count(dim => dim == -1) > 1 || target.Any(dim => dim == 0 || dim < -1))
            throw new ShapeMismatch($"target {Format(target)} may hold positive sizes and one -1 only");
        long known = target.Where(dim => dim > 0).Aggregate(1L, (a, b) => a * b);
        long count = input.Where(dim => dim >= 0).Aggregate(1L, (a, b) => a * b);
        bool dynamic = input.Any(dim => dim < 0);
        if (target.Contains(-1) ? count % known != 0 : dynamic || count != known)
            throw new ShapeMismatch($"cannot reshape {Format(input)} ({count} known elements) to {Format(target)}");
        int inferred = dynamic ? -1 : (int)(count / known);
        return [.. target.Select(dim => dim == -1 ? inferred : dim)];
    }

    static int[] Conv(ConvNode conv, int[][] inputs)
    {
        int[] input = inputs[0], weight = inputs[1];
        if (input.Length != 5 || weight.Length != 5)
            throw new ShapeMismatch($"input {Format(input)} and weight {Format(weight)} must both be 5-D");
        if (conv.Strides.Length != 3 || conv.Pads.Length != 3 || conv.Strides.Any(stride => stride < 1) || conv.Groups < 1)
            throw new ShapeMismatch($"strides {Format(conv.Strides)}, pads {Format(conv.Pads)} and groups {conv.Groups} are not three positive strides, three pads and a positive group count");
        if (weight[0] % conv.Groups != 0)
            throw new ShapeMismatch($"weight {Format(weight)} has {weight[0]} output channels, not a multiple of {conv.Groups} groups");
        if (input[1] >= 0 && input[1] != weight[1] * conv.Groups)
            throw new ShapeMismatch($"input {Format(input)} has {input[1]} channels but weight {Format(weight)} with {conv.Groups} groups reads {weight[1] * conv.Groups}");
        if (inputs.Length == 3 && !inputs[2].SequenceEqual([weight[0]]))
            throw new ShapeMismatch($"bias {Format(inputs[2])} is not [{weight[0]}]");
        var output = new int[5];
        output[0] = input[0];
        output[1] = weight[0];
        for (int axis = 0; axis < 3; axis++)
        {
            int size = input[axis + 2];
            if (size >= 0 && size + 2 * conv.Pads[axis] < weight[axis + 2])
                throw new ShapeMismatch($"kernel {Format(weight[2..])} is larger than the padded input {Format(input)}");
            output[axis + 2] = size < 0 ? -1 : (size + 2 * conv.Pads[axis] - weight[axis + 2]) / conv.Strides[axis] + 1;
        }
        return output;
    }

    /// <summary>Numpy broadcasting, aligned on the last axis; a dynamic dimension meeting a size takes the size.</summary>
    static int[] Broadcast(int[] a, int[] b)
    {
        var output = new int[Math.Max(a.Length, b.Length)];
        for (int i = 1; i <= output.Length; i++)
        {
            int x = i <= a.Length ? a[^i] : 1, y = i <= b.Length ? b[^i] : 1;
            if (x != y && x != 1 && y != 1 && x >= 0 && y >= 0)
                throw new ShapeMismatch($"{Format(a)} and {Format(b)} do not broadcast");
            output[^i] = x == 1 ? y : y == 1 ? x : Math.Max(x, y);
        }
        return output;
    }

    static int[] Pool(int[] input) =>
        input.Length == 5 ? [input[0], input[1], 1, 1, 1] : throw new ShapeMismatch($"input {Format(input)} is not 5-D");

    static int[] Linear(int[][] inputs)
    {
        int[] input = inputs[0], weight = inputs[1];
        if (input.Length != 2 || weight.Length != 2)
            throw new ShapeMismatch($"input {Format(input)} and weight {Format(weight)} must both be 2-D");
        if (input[1] >= 0 && input[1] != weight[1])
            throw new ShapeMismatch($"input {Format(input)} has {input[1]} features but weight {Format(weight)} reads {weight[1]}");
        if (inputs.Length == 3 && !inputs[2].SequenceEqual([weight[0]]))
            throw new ShapeMismatch($"bias {Format(inputs[2])} is not [{weight[0]}]");
        return [input[0], weight[0]];
    }

    static int[] Quantize(int[][] inputs)
    {
        foreach (var range in inputs[1..])
            if (!Broadcast(inputs[0], range).SequenceEqual(inputs[0]))
                throw new ShapeMismatch($"range {Format(range)} does not broadcast to the input {Format(inputs[0])}");
        return inputs[0];
    }

    sealed class ShapeMismatch(string message) : Exception(message);
}
