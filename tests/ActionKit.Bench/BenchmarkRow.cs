namespace ActionKit.Bench;

/// <summary>One line of the benchmark table: a measured figure, and optionally the same figure of a peer measured in the same run.</summary>
public sealed record BenchmarkRow(string Group, string Case, double Value, string Unit, string? Peer = null, double? PeerValue = null)
{
    /// <summary>Value over the peer's value, when a peer was measured.</summary>
    public double? Ratio => PeerValue is > 0 ? Value / PeerValue : null;
}
