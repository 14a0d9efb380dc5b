namespace ActionKit.Data;

/// <summary>Progress of a long operation: <paramref name="Completed"/> of <paramref name="Total"/> items
/// (videos, frames, steps) of the step named by <paramref name="Description"/>, with an optional live
/// <paramref name="Detail"/> (e.g. the current loss) that changes while the step's name stays the same.</summary>
public sealed record WorkProgress(string Description, long Completed, long Total, string? Detail = null);
