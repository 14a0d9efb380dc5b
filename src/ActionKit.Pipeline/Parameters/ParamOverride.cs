namespace ActionKit.Pipeline.Parameters;

/// <summary>One parameter set on the command line: its dotted key in params.yaml, the value, and the option that set it.</summary>
public sealed record ParamOverride(string Key, object Value, string Option);
