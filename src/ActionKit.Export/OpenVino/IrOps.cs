using System.Globalization;

namespace ActionKit.Export.OpenVino;

/// <summary>What <see cref="IrWriter"/> writes and <see cref="IrReader"/> accepts: layer types, element types, lists.</summary>
static class IrOps
{
    /// <summary>Each layer type with its opset and input count; every type but Result has one output.</summary>
    public static readonly IReadOnlyDictionary<string, (string Version, int Inputs)> Layers = new Dictionary<string, (string, int)>
    {
        ["Parameter"] = ("opset1", 0),
        ["Const"] = ("opset1", 0),
        ["Convolution"] = ("opset1", 2),
        ["GroupConvolution"] = ("opset1", 2),
        ["Add"] = ("opset1", 2),
        ["Multiply"] = ("opset1", 2),
        ["ReLU"] = ("opset1", 1),
        ["Sigmoid"] = ("opset1", 1),
        ["Swish"] = ("opset4", 1),
        ["ReduceMean"] = ("opset1", 2),
        ["MatMul"] = ("opset1", 2),
        ["Reshape"] = ("opset1", 2),
        ["FakeQuantize"] = ("opset1", 5),
        ["Convert"] = ("opset1", 1),
        ["Result"] = ("opset1", 1),
    };

    public const string Float = "f32";
    public const string Long = "i64";
    public const string Int8 = "i8";

    public static string Precision(string elementType) => elementType switch { Long => "I64", Int8 => "I8", _ => "FP32" };

    public static int ElementSize(string elementType) => elementType switch { Long => 8, Int8 => 1, _ => 4 };

    public static string List(IEnumerable<int> values) => string.Join(",", values.Select(value => value.ToString(CultureInfo.InvariantCulture)));

    /// <summary>OpenVINO's rule for an rt_info key that may stand as an element name; other keys go in <c>&lt;info name=...&gt;</c>.</summary>
    public static bool IsTagName(string key) =>
        key.Length > 0 && (char.IsAsciiLetter(key[0]) || key[0] == '_')
        && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')
        && !key.StartsWith("xml", StringComparison.OrdinalIgnoreCase);
}
